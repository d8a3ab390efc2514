"""The config's vocabulary: one annotated type per kind of value, each with the rule it obeys.

Pure: no I/O (a path is made absolute by string work, never looked up on disk). A type here
validates *and* resolves, so that what comes out of validation is what the program uses:
a path comes out absolute against the config file's folder (the validation context's
`folder`), a zone comes out a `ZoneInfo`, a chat comes out the string the Bot API takes.
`relay.core.config` builds the config's models from these types.

Bounds are part of the type: a value that validates must not crash the service later
(a `nan` interval, a 1e308-second timeout, a chat that is a boolean).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, PlainValidator, ValidationInfo

from relay.core.durations import DAY, WEEK, parse_duration
from relay.core.state_url import PostgresUrl, StateLocation, is_state_url, parse_postgres_url

# --- durations (seconds, finite) ------------------------------------------------------------
MIN_INTERVAL = 1.0  # below this, APScheduler logs a missed run several times a second
MAX_INTERVAL = WEEK
MAX_TIMEOUT = 600.0  # one request; a longer wait is a hung server, not a slow one
MAX_PAUSE = 600.0  # politeness pauses
MAX_CHAT_PAUSE = 60.0  # Telegram asks for about 1 s between two messages to one chat
# A board lease: renewed every third of it, so below 2 s a busy database or a slow round
# trip loses leases that are alive; above an hour a dead instance's boards wait too long.
MIN_LEASE, MAX_LEASE = 2.0, 3600.0
# A delivery claim outlives the longest send (a 15 s request, the pace before it) between
# two renewals; above an hour a dead instance's chats wait too long for another.
MIN_CLAIM, MAX_CLAIM = 20.0, 3600.0


def _duration(*, minimum: float = 0.0, maximum: float, zero: bool = False) -> BeforeValidator:
    return BeforeValidator(
        lambda value: parse_duration(value, minimum=minimum, maximum=maximum, zero=zero)
    )


Interval = Annotated[float, _duration(minimum=MIN_INTERVAL, maximum=MAX_INTERVAL)]
Timeout = Annotated[float, _duration(maximum=MAX_TIMEOUT)]
Pause = Annotated[float, _duration(maximum=MAX_PAUSE, zero=True)]  # 0: no pause
ChatPause = Annotated[float, _duration(maximum=MAX_CHAT_PAUSE, zero=True)]
DrainTime = Annotated[float, _duration(maximum=DAY)]
LeaseTime = Annotated[float, _duration(minimum=MIN_LEASE, maximum=MAX_LEASE)]
ClaimTime = Annotated[float, _duration(minimum=MIN_CLAIM, maximum=MAX_CLAIM)]


# --- paths ----------------------------------------------------------------------------------
def context_value(info: ValidationInfo, key: str) -> Any:
    """`key` of the validation context. A missing one is a programming error, not a config one."""
    context = info.context
    if not isinstance(context, dict) or key not in context:
        raise TypeError(f"config validation needs {key!r} in its context")
    return context[key]


def _absolute(value: object, info: ValidationInfo, *, expand: bool = False) -> Path:
    if not isinstance(value, str | Path) or not str(value).strip():
        raise ValueError(f"{value!r} is not a path")
    text = str(value)
    if expand:  # "${CREDENTIALS_DIRECTORY}/token", "~/token"
        text = os.path.expanduser(os.path.expandvars(text))
    folder: Path = context_value(info, "folder")
    # normpath, not resolve(): pure string work, and "feeds/../state.db" still compares right.
    return Path(os.path.normpath(folder / text))


ConfigPath = Annotated[Path, PlainValidator(_absolute)]


def _state_location(value: object, info: ValidationInfo) -> StateLocation:
    # A PostgreSQL URL, or a SQLite file resolved like any other path.
    if isinstance(value, PostgresUrl):
        return value
    if isinstance(value, str) and is_state_url(value):
        return parse_postgres_url(value.strip())
    return _absolute(value, info)


StateTarget = Annotated[Path | PostgresUrl, PlainValidator(_state_location)]
TokenPath = Annotated[Path, PlainValidator(lambda v, info: _absolute(v, info, expand=True))]


def _feed_file_name(value: str) -> str:
    # A plain name: the [http] listener serves /feeds/<name> and nothing deeper.
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.(atom|xml)", value):
        raise ValueError(f'"{value}" must be a file name inside feeds_dir ending in .atom')
    return value


FeedName = Annotated[str, AfterValidator(_feed_file_name)]


# --- names and addresses --------------------------------------------------------------------
def _slug(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9_-]+", value):
        raise ValueError(f'"{value}" must be lowercase letters, digits, "_" or "-"')
    return value


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value) or re.search(r"\s", value):
        raise ValueError(f'"{value}" is not an http(s) URL')
    return value


def _language_tag(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*", value):
        raise ValueError(f'"{value}" is not a language tag (e.g. "ko", "ko-KR")')
    return value


def _chat(value: object) -> str:
    """A chat is "@name" or an integer id; an integer id becomes its decimal string.

    A boolean is refused although Python counts it as an int: `chat = true` would be chat "1".
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f'{value!r} is not a chat: use "@channel_name" or a numeric chat id')
    text = str(value).strip()
    if not re.fullmatch(r"@[A-Za-z0-9_]{1,64}|-?[0-9]{1,20}", text):
        raise ValueError(f'"{value}" is not a chat: use "@channel_name" or a numeric chat id')
    return text


def _header_value(value: str) -> str:
    # httpx encodes header values as ASCII: a Korean or multi-line User-Agent would fail on
    # the first request, long after the config was accepted.
    if not value or len(value) > 512 or not all(" " <= ch <= "~" for ch in value):
        raise ValueError(f'"{value[:80]}" must be 1 to 512 printable ASCII characters')
    return value


def _listen(value: str) -> str:
    split_listen(value)
    return value


def _template(value: str) -> str:
    from relay.core.message import validate_template

    try:
        validate_template(value)
    except ValueError as e:  # its messages say "template: ..." and so does the error's key
        raise ValueError(str(e).removeprefix("template: ")) from None
    return value


def _zone(value: object) -> ZoneInfo:
    if isinstance(value, ZoneInfo):  # a board's default, already resolved from [relay]
        return value
    if not isinstance(value, str):
        raise ValueError(f'{value!r} is not a time zone name (e.g. "Asia/Seoul")')
    return zone(value)


Slug = Annotated[str, AfterValidator(_slug)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
ApiUrl = Annotated[str, AfterValidator(lambda v: _http_url(v).rstrip("/"))]
LanguageTag = Annotated[str, AfterValidator(_language_tag)]
Chat = Annotated[str, PlainValidator(_chat)]
Listen = Annotated[str, AfterValidator(_listen)]
Template = Annotated[str, AfterValidator(_template)]
UserAgent = Annotated[str, AfterValidator(_header_value)]
Zone = Annotated[ZoneInfo, PlainValidator(_zone)]


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
