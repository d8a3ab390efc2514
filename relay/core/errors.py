"""The error tree. Every message names the culprit: config key, board id, URL, selector, chat.

RelayError
├── ConfigError          bad TOML, key or value; the CLI exits 2
├── BoardFailure         a poll of one board failed: counted, backed off, alarmed on (`reason`)
│   ├── FetchError       a page could not be had ("http 503", "network", "blocked", ...)
│   ├── LayoutError      a list page parsed to zero rows: the layout changed or a block page came
│   ├── FeedWriteError   the Atom file could not be replaced; the old one is intact
│   └── StateError       the state cannot be used or written (locked, newer schema, disk full)
├── StartError           the service cannot start (listen address busy, a folder not writable)
└── DeliveryError        Telegram refused or failed a message
    ├── TransientDeliveryError   retry later (timeouts, network, 5xx, 429)
    └── PermanentDeliveryError   retrying will not help (chat not found, bot kicked, bad HTML)
"""

from __future__ import annotations


class RelayError(Exception):
    """Base of every error board-relay raises on purpose."""


class ConfigError(RelayError):
    """The configuration cannot be used. The message names the file, board and key."""


class BoardFailure(RelayError):
    """What makes one board's poll fail, never the service's: the poll returns a failed
    outcome. `reason` is short and stable (logs, metrics, alarms); `retry_after` is the
    number of seconds the board asked us to wait, when it said."""

    reason: str = "failed"
    retry_after: float | None = None


class FetchError(BoardFailure):
    """A page could not be fetched."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        reason: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class LayoutError(BoardFailure):
    """A list page gave no rows: never read as "nothing new"."""

    reason = "layout"

    def __init__(self, message: str, *, url: str, selector: str) -> None:
        super().__init__(message)
        self.url = url
        self.selector = selector


class FeedWriteError(BoardFailure):
    """Writing a feed file failed; the previous file is left in place."""

    reason = "feed"


class StateError(BoardFailure):
    """The state store cannot be opened, used or written (each implementation classifies its
    own errors into this one)."""

    reason = "state"


class StartError(RelayError):
    """The service cannot start: an OS resource it needs is refused. One line, exit 1."""


class DeliveryError(RelayError):
    """A Telegram message was not delivered."""

    def __init__(self, message: str, *, reason: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class TransientDeliveryError(DeliveryError):
    """Worth retrying: timeouts, network errors, 5xx, flood control (retry_after set)."""


class PermanentDeliveryError(DeliveryError):
    """Not worth retrying: the chat, the bot's rights or the message itself is wrong."""

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.migrate_to_chat_id = migrate_to_chat_id
