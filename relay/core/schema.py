"""The config file's schema: pydantic models of the TOML tables, validated once.

Pure: no I/O. `relay.core.config` reads the file, runs this schema and resolves the result into
the typed `Config` the rest of the relay uses. Unknown keys are errors (`extra="forbid"`):
a typo such as `intervall` must not be ignored silently.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from relay import DEFAULT_USER_AGENT
from relay.core.durations import parse_duration
from relay.core.models import LinkPreview


def _duration(value: object) -> float:
    return parse_duration(value)


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f'"{value}" is not an http(s) URL')
    return value


def _zone_name(value: str) -> str:
    zone(value)
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
    concurrency: int = Field(default=32, ge=1)  # boards polled at once
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
            from relay.core.message import validate_template

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


def split_listen(value: str) -> tuple[str, int]:
    """ "127.0.0.1:8080" -> ("127.0.0.1", 8080); "[::1]:8080" works too."""
    match = re.fullmatch(r"\[?([^\]]*?)\]?:(\d{1,5})", value.strip())
    if not match or not 0 <= int(match.group(2)) <= 65535:
        raise ValueError(f'"{value}" is not host:port')
    return match.group(1) or "127.0.0.1", int(match.group(2))


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'"{name}" is not a known time zone (e.g. "Asia/Seoul")') from None
