"""Which config changes a running service cannot apply: they take effect only at a restart.

Pure: compares two `Config`s. The daemon names these keys in a warning on reload, so that a
changed `user_agent` or `concurrency` is not ignored without a word.
"""

from __future__ import annotations

from relay.core.config import Config

# (table, key). Each is read once at start by something the reload does not rebuild:
RESTART_ONLY: tuple[tuple[str, str], ...] = (
    ("relay", "state"),  # the open database and its lock
    ("relay", "state_password_file"),  # read when the PostgreSQL state is opened
    ("relay", "user_agent"),  # the fetcher's client, built at start
    ("relay", "timeout"),  # ... same
    ("relay", "host_delay"),  # ... same
    ("relay", "max_page_bytes"),  # ... same
    ("relay", "concurrency"),  # the scheduler's semaphore
    ("relay", "lease"),  # the lease task's period and the leases' length, set at start
    ("telegram", "api_url"),  # the bot client, built (and getMe checked) at start
    ("telegram", "token_file"),  # ... same
    ("telegram", "dry_run"),  # the sender (printer or bot) is chosen at start
    ("telegram", "per_chat_interval"),  # the bot client's pace
    ("telegram", "group_per_minute"),  # ... same
    ("telegram", "bot_per_second"),  # ... same
    ("telegram", "claim"),  # the delivery claims of a shared state, built at start
    ("http", "listen"),  # the listening socket
)
# Not here: every board key (a changed board is rescheduled), feeds_dir (the boards' feed paths
# follow it, and the listener asks the current config for them on every request), admin_chat
# and alarm_after (the alarms read the new config), drain_timeout (read by `relay once` only).
FIRST_CHAT = "[boards] chat"


def restart_only_changes(old: Config, new: Config) -> tuple[str, ...]:
    """The keys, as "[table] key", whose change between `old` and `new` needs a restart.

    `FIRST_CHAT` is listed when `new` sends to Telegram and `old` did not: a service started
    without any chat runs without a bot, and a reload does not connect one.
    """
    changed = [
        f"[{table}] {key}" for table, key in RESTART_ONLY if getattr(old, key) != getattr(new, key)
    ]
    if new.sends and not old.sends:
        changed.append(FIRST_CHAT)
    return tuple(changed)
