"""TOML file -> typed `Config`, with errors that name the board and the key.

Reads the one file (and the token file, on request), validates it with `relay.core.schema`, and
resolves it: defaults applied, engine presets merged, relative paths made absolute against
the config file's folder, so the service behaves the same whatever its working directory.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from relay.core.engines import PRESETS, SELECTOR_KEYS, Selectors
from relay.core.errors import ConfigError
from relay.core.models import LinkPreview
from relay.core.schema import ConfigFile, zone

TOKEN_ENV = "RELAY_TELEGRAM_TOKEN"
CONFIG_ENV = "RELAY_CONFIG"
POLITE_INTERVAL = 10.0  # seconds; below this a warning says it is impolite to real boards


@dataclass(frozen=True, slots=True)
class Board:
    """One board, everything resolved: defaults applied, preset merged, paths absolute."""

    id: str
    url: str
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
    default_zone = zone(relay.timezone)
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
            from relay.core.parse import check_selectors

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
                timezone=zone(section.timezone) if section.timezone else default_zone,
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
