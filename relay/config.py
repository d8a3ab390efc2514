"""TOML file -> typed `Config`, validated once, with errors that name the board and the key.

Pure but for reading the one file (and the token file, on request). Unknown keys are errors:
a typo such as `intervall` must not be ignored silently. Relative paths resolve against the
config file's folder, so the service behaves the same whatever its working directory.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from relay import DEFAULT_USER_AGENT
from relay.durations import parse_duration
from relay.engines import PRESETS, SELECTOR_KEYS, Selectors
from relay.errors import ConfigError
from relay.models import LinkPreview

TOKEN_ENV = "RELAY_TELEGRAM_TOKEN"
CONFIG_ENV = "RELAY_CONFIG"
POLITE_INTERVAL = 10.0  # seconds; below this a warning says it is impolite to real boards


def _duration(value: object) -> float:
    return parse_duration(value)


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f'"{value}" is not an http(s) URL')
    return value


def _zone_name(value: str) -> str:
    _zone(value)
    return value


Duration = Annotated[float, BeforeValidator(_duration)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
ZoneName = Annotated[str, AfterValidator(_zone_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RelaySection(_Strict):
    state: Path = Path("state.db")
    feeds_dir: Path = Path("feeds")
    interval: Duration = 120.0
    user_agent: str = DEFAULT_USER_AGENT
    timezone: ZoneName = "Asia/Seoul"
    admin_chat: str | None = None  # alarms when a board breaks and recovers
    alarm_after: int = Field(default=3, ge=1)  # consecutive failures before an alarm
    concurrency: int = Field(default=8, ge=1)  # boards polled at once
    host_delay: Duration = 1.0  # pause between two requests to one host
    timeout: Duration = 30.0  # whole-request deadline
    max_page_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)


class TelegramSection(_Strict):
    api_url: HttpUrl = "https://api.telegram.org"
    token_file: Path | None = None
    drain_timeout: Duration = 300.0
    dry_run: bool = False
    # Telegram's limits. Lower them only for a local test server: the real one bans floods.
    per_chat_interval: float = Field(default=1.0, ge=0)  # seconds between messages to a chat
    group_per_minute: int = Field(default=20, ge=0)  # messages per minute to a group/channel
    bot_per_second: int = Field(default=30, ge=0)  # messages per second, all chats together


class HttpSection(_Strict):
    listen: str | None = None  # "127.0.0.1:8080"

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            split_listen(value)
        return value


SelectorValue = str | list[str]


class SelectorsSection(_Strict):
    row: SelectorValue | None = None
    link: SelectorValue | None = None
    number: SelectorValue | None = None
    title: SelectorValue | None = None
    author: SelectorValue | None = None
    date: SelectorValue | None = None
    notice: SelectorValue | None = None
    comments: SelectorValue | None = None
    body: SelectorValue | None = None
    strip: SelectorValue | None = None
    id_pattern: SelectorValue | None = None
    page_param: str | None = None

    @field_validator("id_pattern")
    @classmethod
    def _one_group(cls, value: SelectorValue | None) -> SelectorValue | None:
        for pattern in [value] if isinstance(value, str) else value or []:
            try:
                compiled = re.compile(pattern)
            except re.error as e:
                raise ValueError(f'"{pattern}" is not a regular expression: {e}') from None
            if compiled.groups != 1:
                raise ValueError(f'"{pattern}" must have exactly one group (the post id)')
        return value


class BoardSection(_Strict):
    id: str
    url: HttpUrl
    engine: Literal["rhymix", "xe", "gnuboard", "custom"] = "rhymix"
    title: str | None = None
    interval: Duration | None = None
    feed: str | None = None
    feed_url: str | None = None  # where the feed is served publicly: the Atom self link
    language: str = "ko"
    timezone: ZoneName | None = None
    chat: str | int | None = None
    excerpt_chars: int = Field(default=200, ge=0, le=3000)
    backfill: int = Field(default=0, ge=0)
    max_pages: int = Field(default=5, ge=1, le=100)
    feed_entries: int = Field(default=50, ge=1, le=1000)
    notices: bool = True
    disable_notification: bool = False
    link_preview: LinkPreview = LinkPreview.POST
    message_thread_id: int | None = None
    template: str | None = None
    selectors: SelectorsSection = SelectorsSection()

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9_-]+", value):
            raise ValueError(f'"{value}" must be lowercase letters, digits, "_" or "-"')
        return value

    @field_validator("feed")
    @classmethod
    def _feed_file_name(cls, value: str | None) -> str | None:
        # A plain name: the [http] listener serves /feeds/<name> and nothing deeper.
        if value is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.(atom|xml)", value):
            raise ValueError(f'"{value}" must be a file name inside feeds_dir ending in .atom')
        return value

    @field_validator("language")
    @classmethod
    def _language_tag(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*", value):
            raise ValueError(f'"{value}" is not a language tag (e.g. "ko", "ko-KR")')
        return value

    @field_validator("template")
    @classmethod
    def _telegram_template(cls, value: str | None) -> str | None:
        if value is not None:
            from relay.message import validate_template

            validate_template(value)
        return value

    @model_validator(mode="after")
    def _custom_needs_rows(self) -> BoardSection:
        if self.engine == "custom" and not self.selectors.row:
            raise ValueError('engine "custom" needs [boards.selectors] row')
        return self


class ConfigFile(_Strict):
    relay: RelaySection = RelaySection()
    telegram: TelegramSection = TelegramSection()
    http: HttpSection = HttpSection()
    boards: list[BoardSection] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> ConfigFile:
        seen: set[str] = set()
        for board in self.boards:
            if board.id in seen:
                raise ValueError(f'board id "{board.id}" is used twice')
            seen.add(board.id)
        return self


@dataclass(frozen=True, slots=True)
class Board:
    """One board, everything resolved: defaults applied, preset merged, paths absolute."""

    id: str
    url: HttpUrl
    engine: str
    title: str
    interval: float  # seconds
    feed_path: Path
    feed_url: str | None
    language: str
    timezone: ZoneInfo
    chat: str | None
    excerpt_chars: int
    backfill: int
    max_pages: int
    feed_entries: int
    notices: bool
    disable_notification: bool
    link_preview: LinkPreview
    message_thread_id: int | None
    template: str | None
    selectors: Selectors


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration. Secrets are not in it: see `load_token`."""

    path: Path
    state: Path
    feeds_dir: Path
    interval: float
    user_agent: str
    timezone: ZoneInfo
    admin_chat: str | None
    alarm_after: int
    concurrency: int
    host_delay: float
    timeout: float
    max_page_bytes: int
    api_url: str
    token_file: Path | None
    drain_timeout: float
    dry_run: bool
    per_chat_interval: float
    group_per_minute: int
    bot_per_second: int
    listen: str | None
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
        return bool(self.admin_chat) or any(b.chat for b in self.boards)


def split_listen(value: str) -> tuple[str, int]:
    """ "127.0.0.1:8080" -> ("127.0.0.1", 8080); "[::1]:8080" works too."""
    match = re.fullmatch(r"\[?([^\]]*?)\]?:(\d{1,5})", value.strip())
    if not match or not 0 <= int(match.group(2)) <= 65535:
        raise ValueError(f'"{value}" is not host:port')
    return match.group(1) or "127.0.0.1", int(match.group(2))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'"{name}" is not a known time zone (e.g. "Asia/Seoul")') from None


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
    return config_from_dict(raw, path)


def config_from_dict(raw: dict[str, Any], path: Path) -> Config:
    try:
        parsed = ConfigFile.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(f"{path}: {describe_errors(e, raw)}") from None
    return _resolve(parsed, path)


def describe_errors(error: ValidationError, raw: dict[str, Any]) -> str:
    """One line per problem: `boards[2] (id "clien"): interval "5x" is not a duration`."""
    lines = []
    for item in error.errors():
        loc = list(item["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == "boards" and isinstance(loc[1], int):
            index = loc[1]
            boards = raw.get("boards")
            board_id = None
            if isinstance(boards, list) and index < len(boards) and isinstance(boards[index], dict):
                board_id = boards[index].get("id")
            where = f"boards[{index}]" + (f' (id "{board_id}")' if board_id else "")
            loc = loc[2:]
        elif loc:
            where = f"[{loc[0]}]" if loc[0] in ("relay", "telegram", "http") else ""
            loc = loc[1:] if where else loc
        key = ".".join(str(p) for p in loc if str(p) not in _UNION_TAGS)
        message = _message(item)
        prefix = ": ".join(p for p in (where, key) if p)
        if not prefix:
            lines.append(message)
        elif key and message.startswith('"'):
            lines.append(f"{prefix} {message}")  # interval "5x" is not a duration
        else:
            lines.append(f"{prefix}: {message}")
    return "; ".join(lines)


_UNION_TAGS = {"str", "int", "float", "list[str]", "function-before[_duration(), float]"}


def _message(item: Any) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        return "unknown key (check its spelling)"
    if kind == "missing":
        return "is required"
    if kind == "literal_error" or kind == "enum":
        return f"{item['input']!r} is not one of {item['ctx'].get('expected', '')}"
    message = str(item["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind.endswith("_type") or kind.endswith("_parsing"):
        message = f"{item['input']!r}: {message.lower()}"
    return message


def _resolve(parsed: ConfigFile, path: Path) -> Config:
    folder = path.resolve().parent
    relay = parsed.relay
    default_zone = _zone(relay.timezone)
    feeds_dir = _absolute(relay.feeds_dir, folder)
    warnings = []
    boards = []
    for index, section in enumerate(parsed.boards):
        interval = section.interval or relay.interval
        if interval < POLITE_INTERVAL:
            warnings.append(
                f'boards[{index}] (id "{section.id}"): interval {interval:g}s is below '
                f"{POLITE_INTERVAL:g}s: impolite to a real board (fine for a local simulator)"
            )
        overrides = {
            key: value
            for key, value in section.selectors.model_dump().items()
            if value is not None and key in SELECTOR_KEYS
        }
        selectors = PRESETS[section.engine].merged(overrides)
        try:
            from relay.parse import check_selectors

            check_selectors(selectors)
        except ValueError as e:
            raise ConfigError(
                f'{path}: boards[{index}] (id "{section.id}"): selectors: {e}'
            ) from None
        boards.append(
            Board(
                id=section.id,
                url=section.url,
                engine="rhymix" if section.engine == "xe" else section.engine,
                title=section.title or section.id,
                interval=interval,
                feed_path=feeds_dir / (section.feed or f"{section.id}.atom"),
                feed_url=section.feed_url,
                language=section.language,
                timezone=_zone(section.timezone) if section.timezone else default_zone,
                chat=str(section.chat) if section.chat is not None else None,
                excerpt_chars=section.excerpt_chars,
                backfill=section.backfill,
                max_pages=section.max_pages,
                feed_entries=section.feed_entries,
                notices=section.notices,
                disable_notification=section.disable_notification,
                link_preview=section.link_preview,
                message_thread_id=section.message_thread_id,
                template=section.template,
                selectors=selectors,
            )
        )
    token_file = parsed.telegram.token_file
    return Config(
        path=path.resolve(),
        state=_absolute(relay.state, folder),
        feeds_dir=feeds_dir,
        interval=relay.interval,
        user_agent=relay.user_agent,
        timezone=default_zone,
        admin_chat=relay.admin_chat,
        alarm_after=relay.alarm_after,
        concurrency=relay.concurrency,
        host_delay=relay.host_delay,
        timeout=relay.timeout,
        max_page_bytes=relay.max_page_bytes,
        api_url=parsed.telegram.api_url.rstrip("/"),
        token_file=None if token_file is None else _absolute(token_file, folder, expand=True),
        drain_timeout=parsed.telegram.drain_timeout,
        dry_run=parsed.telegram.dry_run,
        per_chat_interval=parsed.telegram.per_chat_interval,
        group_per_minute=parsed.telegram.group_per_minute,
        bot_per_second=parsed.telegram.bot_per_second,
        listen=parsed.http.listen,
        boards=tuple(boards),
        warnings=tuple(warnings),
    )


def _absolute(value: Path, folder: Path, *, expand: bool = False) -> Path:
    if expand:
        value = Path(os.path.expandvars(str(value))).expanduser()
    return value if value.is_absolute() else folder / value


def load_token(config: Config) -> str:
    """The bot token: env RELAY_TELEGRAM_TOKEN, else [telegram] token_file. Never logged."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    if config.token_file is None:
        raise ConfigError(
            f"{config.path}: no Telegram token: set {TOKEN_ENV} or [telegram] token_file "
            "(or dry_run = true)"
        )
    try:
        token = config.token_file.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(
            f"{config.path}: [telegram] token_file {config.token_file}: {e.strerror}"
        ) from None
    if not token:
        raise ConfigError(f"{config.path}: [telegram] token_file {config.token_file} is empty")
    return token
