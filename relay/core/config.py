"""TOML file -> `Config`: the validated model *is* the config the program uses.

Each key is declared once: its type, bound and resolution come from `relay.core.schema`, its
default and its table from the section model below that holds it. There are no dataclasses
beside the models and no resolving pass after validation, because three copies of one key
(schema, dataclass, resolver) drift apart: a bound added to one was missing from the others.
Validation resolves as it goes — relative paths made absolute against the config file's
folder (the validation context's `folder`), presets merged into `Selectors`, zones made
`ZoneInfo`, chats made strings — so the models hold exactly what the program reads.

The file has tables ([relay], [telegram], [http]); the program reads one flat object
(`config.state`, `config.api_url`). `Config` inherits its fields from the three table models,
so flattening restates no key: `ConfigFile` is the file as written, `Config` the same values
with the file's path and the warnings. A board's defaults come from [relay]: pydantic
validates fields in order, so `ConfigFile.boards` validates its boards with the already
validated [relay] table in their context.

Models are frozen, compared and hashed by value: the daemon compares a board from a reload
with the running one to decide whether to reschedule it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from relay import DEFAULT_USER_AGENT
from relay.core.config_errors import describe_errors
from relay.core.engines import Selectors
from relay.core.errors import ConfigError
from relay.core.message import MessageSettings
from relay.core.models import LinkPreview
from relay.core.quiet import QuietSetting, parse_quiet_after
from relay.core.records import projected
from relay.core.routes import Route, expand_routes, without_route_tables
from relay.core.schema import (
    ApiUrl,
    Chat,
    ChatPause,
    ClaimTime,
    ConfigPath,
    DrainTime,
    FeedName,
    HttpUrl,
    Interval,
    LanguageTag,
    LeaseTime,
    Listen,
    Pause,
    Slug,
    StateTarget,
    Template,
    Timeout,
    TokenPath,
    UserAgent,
    Zone,
    context_value,
)
from relay.core.selectors import SelectorsTable, merge_preset
from relay.core.state_url import PostgresUrl
from relay.core.token import TokenError, check_token, read_secret_file, read_token_file

TOKEN_ENV = "RELAY_TELEGRAM_TOKEN"
STATE_PASSWORD_ENV = "RELAY_STATE_PASSWORD"
CONFIG_ENV = "RELAY_CONFIG"
POLITE_INTERVAL = 10.0  # seconds; below this a warning says it is impolite to real boards


class _Table(BaseModel):
    # strict: TOML values are typed already, so `true` is not the integer 1 and "5" not 5.
    # validate_default: a default path or zone is resolved like a written one.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, validate_default=True)


class RelayTable(_Table):
    """[relay]: the service as a whole, and the defaults of every board."""

    # A SQLite file (the embedded default), or a postgresql:// URL shared by several relays.
    state: StateTarget = Path("state.db")
    # The PostgreSQL password, read at start (env RELAY_STATE_PASSWORD wins; see
    # `load_state_password`); a password in the URL is the last resort.
    state_password_file: TokenPath | None = None
    feeds_dir: ConfigPath = Path("feeds")
    interval: Interval = 120.0  # seconds
    user_agent: UserAgent = DEFAULT_USER_AGENT
    timezone: Zone = ZoneInfo("Asia/Seoul")
    admin_chat: Chat | None = None  # alarms when a board breaks and recovers
    alarm_after: int = Field(default=3, ge=1)  # consecutive failures before an alarm
    concurrency: int = Field(default=32, ge=1)  # boards polled at once
    host_delay: Pause = 1.0  # seconds between two requests to one host; 0: none
    timeout: Timeout = 30.0  # seconds, whole-request deadline
    max_page_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=1024**3)
    max_rows: int = Field(default=500, ge=1)  # rows read per list page
    # A shared state's board lease: held this long past its last renewal (by the database's
    # clock), renewed every third of it. A SQLite state's leases never lapse.
    lease: LeaseTime = 30.0  # seconds

    @model_validator(mode="after")
    def _state_outside_feeds(self) -> RelayTable:
        if not isinstance(self.state, Path):
            return self
        if self.state_password_file is not None:
            raise ValueError(
                'state_password_file is only for a PostgreSQL state (state = "postgresql://...")'
            )
        # Everything in feeds_dir may be served over HTTP: the database, its -wal and its lock
        # must not be.
        if self.state.is_relative_to(self.feeds_dir):
            raise ValueError(
                f'state "{self.state}" is inside feeds_dir "{self.feeds_dir}", '
                "which may be served over HTTP: keep the state elsewhere"
            )
        return self


class TelegramTable(_Table):
    """[telegram]. The token itself is never here: see `load_token`."""

    api_url: ApiUrl = "https://api.telegram.org"
    token_file: TokenPath | None = None
    drain_timeout: DrainTime = 300.0  # seconds
    # /healthz turns 503 when a delivery waits this much longer than the pace needs for its
    # chat's queue, while Telegram has not asked for a wait (a 429): sending is stuck.
    stuck_after: DrainTime = 900.0  # seconds
    dry_run: bool = False
    # Telegram's limits. Lower them only for a local test server: the real one bans floods.
    per_chat_interval: ChatPause = 1.0  # seconds between messages to a chat
    group_per_minute: int = Field(default=20, ge=0)  # messages per minute to a group/channel
    bot_per_second: int = Field(default=30, ge=0)  # messages per second, all chats together
    digest_over: int = Field(default=0, ge=0)  # a route's default; 0: one message per post
    # A shared (PostgreSQL) state: how long a chat's deliveries stay claimed by an instance
    # past its last renewal (by the database's clock); a dead instance's chats are sent by
    # another after this. A SQLite state claims nothing (one process sends everything).
    claim: ClaimTime = 60.0  # seconds


class HttpTable(_Table):
    """[http]: the optional listener."""

    listen: Listen | None = None  # "127.0.0.1:8080"
    lang: Literal["ko", "en"] = "ko"  # the status page's labels
    show_chats: bool = False  # the status page names chats only when asked: ids are private


_Engine = Literal["rhymix", "xe", "gnuboard", "custom"]
_FEED_NAME: TypeAdapter[str] = TypeAdapter(FeedName)


class Board(_Table):
    """One [[boards]] entry, resolved: defaults from [relay], preset merged, paths absolute.

    Validated only as part of a config file (it needs [relay] in its validation context).
    """

    id: Slug
    url: HttpUrl
    engine: Annotated[_Engine, AfterValidator(lambda e: "rhymix" if e == "xe" else e)] = "rhymix"
    title: str  # default: the id
    interval: Interval  # seconds; default: [relay] interval
    feed_path: Path = Field(default_factory=Path, validation_alias="feed")  # key `feed`: a name
    feed_url: HttpUrl | None = None  # where the feed is served publicly: the Atom self link
    language: LanguageTag = "ko"
    timezone: Zone  # default: [relay] timezone
    chat: Chat | None = None
    # Any size for the feed's summary: Telegram messages are cut to fit whatever it is.
    excerpt_chars: int = Field(default=200, ge=0)
    # "full": the feed carries the sanitized article body (relay.core.sanitize), else the text.
    feed_content: Literal["excerpt", "full"] = "excerpt"
    json_feed: bool = False  # also write a JSON Feed 1.1 beside the Atom file (`json_path`)
    # "auto" learns the board's usual gap between posts; a duration in seconds; "off".
    quiet_after: Annotated[QuietSetting, PlainValidator(parse_quiet_after)] = "auto"
    backfill: int = Field(default=0, ge=0)
    max_pages: int = Field(default=5, ge=1, le=100)
    feed_entries: int = Field(default=50, ge=1, le=1000)
    max_rows: int = Field(ge=1)  # rows read per list page; default: [relay] max_rows
    notices: bool = True
    source: Literal["auto", "list", "feed"] = "auto"  # the list page, or the board's own feed
    category_prefix: bool = False  # messages start "[말머리] " where the post has one
    disable_notification: bool = False
    link_preview: LinkPreview = Field(default=LinkPreview.POST, strict=False)  # from a string
    message_thread_id: int | None = None
    template: Template | None = None
    selectors: Selectors = Field(default_factory=Selectors)  # preset + [boards.selectors]
    # Where posts go: the `chat` shorthand, [[boards.routes]] and the global [[routes]] that
    # name this board, resolved by `relay.core.routes.expand_routes` (see `_with_routes`).
    routes: tuple[Route, ...] = Field(default=(), strict=False)

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_relay(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        relay: RelayTable = context_value(info, "relay")
        filled = {
            "interval": relay.interval,
            "timezone": relay.timezone,
            "max_rows": relay.max_rows,
            **data,
        }
        if not filled.get("title") and isinstance(data.get("id"), str):
            filled["title"] = data["id"]  # an empty title reads as none at all
        return filled

    @field_validator("routes", mode="plain")
    @classmethod
    def _routes_expanded(cls, value: object) -> tuple[Route, ...]:
        # The tables are expanded with the whole file in view (global routes, [telegram]
        # digest_over) by `_with_routes`; a board reaching here holds Route records only.
        if isinstance(value, tuple) and all(isinstance(r, Route) for r in value):
            return value
        raise ValueError("routes are expanded from the config file (relay.core.routes)")

    @property
    def fields(self) -> frozenset[str]:
        """The optional post fields this board's reader provides (category and the counts):
        what a route's `categories` and thresholds need. The stock presets read all of them
        (from their cells, or from the column the skin heads 분류/조회/추천 where it prints
        one); a custom layout provides those it has a selector for."""
        names = ("category", "votes", "views", "comments")
        if self.engine != "custom":
            return frozenset(names)
        return frozenset(name for name in names if getattr(self.selectors, name, ()))

    @field_validator("feed_path", mode="plain")
    @classmethod
    def _in_feeds_dir(cls, value: object, info: ValidationInfo) -> Path:
        relay: RelayTable = context_value(info, "relay")
        if isinstance(value, Path):  # the default: the file itself gives strings
            return relay.feeds_dir / f"{info.data.get('id', '')}.atom"
        return relay.feeds_dir / _FEED_NAME.validate_python(value, strict=True)

    @field_validator("selectors", mode="plain")
    @classmethod
    def _merged_preset(cls, value: object, info: ValidationInfo) -> Selectors:
        # The default (no [boards.selectors]) is the preset as it is.
        table = SelectorsTable() if isinstance(value, Selectors) else value
        return merge_preset(info.data.get("engine", "rhymix"), SelectorsTable.model_validate(table))

    @property
    def json_path(self) -> Path:
        """The JSON Feed file, beside the Atom file: `<feed stem>.json`."""
        return self.feed_path.with_suffix(".json")

    @property
    def message(self) -> MessageSettings:
        """How this board's posts read in Telegram, as one record for `format_message`."""
        return projected(MessageSettings, self, board_title=self.title, tz=self.timezone)


def _boards_with_relay_defaults(value: object, info: ValidationInfo) -> tuple[Board, ...]:
    if isinstance(value, list | tuple) and not value:
        raise ValueError("needs at least one [[boards]] entry")
    relay = info.data.get("relay")
    if relay is None:  # [relay] itself is invalid (reported): check the boards all the same
        relay = RelayTable.model_validate({}, context=info.context)
    context = {**(info.context or {}), "relay": relay}
    boards: tuple[Board, ...] = _BOARDS.validate_python(value, context=context)
    return boards


class ConfigFile(_Table):
    """The file as written: three tables and the boards."""

    relay: RelayTable
    telegram: TelegramTable
    http: HttpTable
    boards: Annotated[tuple[Board, ...], PlainValidator(_boards_with_relay_defaults)]

    @model_validator(mode="before")
    @classmethod
    def _absent_tables_are_empty(cls, data: Any) -> Any:
        # An absent table gets its defaults validated in context, paths resolved like the rest.
        if isinstance(data, dict):
            return {"relay": {}, "telegram": {}, "http": {}, **data}
        return data

    @model_validator(mode="after")
    def _one_board_one_file(self) -> ConfigFile:
        ids: dict[str, int] = {}
        files: dict[Path, int] = {}
        for index, board in enumerate(self.boards):
            if board.id in ids:
                raise ValueError(f'board id "{board.id}" is used twice')
            ids[board.id] = index
            written = [board.feed_path] + ([board.json_path] if board.json_feed else [])
            for path in written:
                other = files.setdefault(path, index)
                if other != index:  # the second board's feed would overwrite the first's
                    raise ValueError(
                        f'boards[{index}] (id "{board.id}"): feed "{path.name}" is '
                        f'already a feed of boards[{other}] (id "{self.boards[other].id}")'
                    )
        return self


_BOARDS: TypeAdapter[tuple[Board, ...]] = TypeAdapter(tuple[Board, ...])


class Config(RelayTable, TelegramTable, HttpTable):
    """The whole configuration, flat. Secrets are not in it: see `load_token`."""

    path: Path  # the config file, absolute
    boards: tuple[Board, ...]
    warnings: tuple[str, ...] = ()

    def board(self, board_id: str) -> Board:
        for board in self.boards:
            if board.id == board_id:
                return board
        known = ", ".join(b.id for b in self.boards)
        raise ConfigError(f'{self.path}: no board with id "{board_id}" (known: {known})')

    @property
    def sends(self) -> bool:
        """Whether anything goes to Telegram (a board chat or an admin chat)."""
        return bool(self.admin_chat) or any(b.routes for b in self.boards)


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or "config.toml")


def load_config(path: Path) -> Config:
    """Read and validate `path`. Raises ConfigError naming the file, board and key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None
    return config_from_dict(raw, path)


def config_from_dict(raw: dict[str, Any], path: Path) -> Config:
    folder = path.resolve().parent
    plain = without_route_tables(raw)
    try:
        parsed = ConfigFile.model_validate(plain, context={"folder": folder})
    except ValidationError as e:
        raise ConfigError(f"{path}: {describe_errors(e, plain)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: values nested too deeply") from None
    parsed = _with_routes(parsed, raw, path)
    warnings = tuple(
        f'boards[{index}] (id "{board.id}"): interval {board.interval:g}s is below '
        f"{POLITE_INTERVAL:g}s: impolite to a real board (fine for a local simulator)"
        for index, board in enumerate(parsed.boards)
        if board.interval < POLITE_INTERVAL
    )
    # Validated above, field by field: constructing the flat view re-checks nothing.
    return Config.model_construct(
        path=path.resolve(),
        boards=parsed.boards,
        warnings=warnings,
        **dict(parsed.relay),
        **dict(parsed.telegram),
        **dict(parsed.http),
    )


def _with_routes(parsed: ConfigFile, raw: dict[str, Any], path: Path) -> ConfigFile:
    """Every board with its routes: the `chat` shorthand, [[boards.routes]], [[routes]]."""
    # A board's message_thread_id without a chat was accepted (and unused) before routes:
    # such a file keeps loading. Only a route without a chat is an error.
    tables = [
        b if b.get("chat") is not None else {k: v for k, v in b.items() if k != "message_thread_id"}
        for b in raw.get("boards", [])
    ]
    try:
        expanded = expand_routes(
            tables,
            raw.get("routes", []),
            board_fields={board.id: board.fields for board in parsed.boards},
            digest_over=parsed.telegram.digest_over,
        )
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None
    boards = tuple(
        board.model_copy(update={"routes": expanded[board.id]}) for board in parsed.boards
    )
    return parsed.model_copy(update={"boards": boards})


def load_token(config: Config) -> str:
    """The bot token: env RELAY_TELEGRAM_TOKEN, else [telegram] token_file. Never logged.

    A token that is not `digits:letters` is refused before it reaches a request URL
    (a "/../" in it would change the request's path); the error never shows the token.
    """
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        try:
            check_token(token)
        except TokenError as e:
            raise ConfigError(f"{config.path}: {TOKEN_ENV} {e}") from None
        return token
    if config.token_file is None:
        raise ConfigError(
            f"{config.path}: no Telegram token: set {TOKEN_ENV} or [telegram] token_file "
            "(or dry_run = true)"
        )
    try:
        return read_token_file(config.token_file)
    except TokenError as e:
        raise ConfigError(
            f"{config.path}: [telegram] token_file {config.token_file}: {e}"
        ) from None


def load_state_password(config: Config) -> str | None:
    """The PostgreSQL state's password: env RELAY_STATE_PASSWORD, else [relay]
    state_password_file (its trailing newline stripped), else the one in the URL, else none
    (trust or peer authentication, a ~/.pgpass). Never logged; None for a SQLite state."""
    if not isinstance(config.state, PostgresUrl):
        return None
    if config.state_password_file is not None and not os.environ.get(STATE_PASSWORD_ENV):
        try:
            text = read_secret_file(config.state_password_file, "password")
        except TokenError as e:
            raise ConfigError(
                f"{config.path}: [relay] state_password_file {config.state_password_file}: {e}"
            ) from None
        return text.rstrip("\r\n")
    return state_password(config.state)


def state_password(url: PostgresUrl) -> str | None:
    """The password of a state URL given on its own (`relay state copy`): the env var, else
    the URL's."""
    return os.environ.get(STATE_PASSWORD_ENV) or url.password
