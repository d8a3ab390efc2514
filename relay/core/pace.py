"""Telegram's sending pace as data, and how long it needs for a queue. Pure.

The courier enforces the pace (relay.adapters.courier.Pacer); this module only says what it
is and estimates, for the drain's progress lines and for `relay status`, how long the pace
needs to send what is pending. It knows nothing of flood answers or the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from relay.core.config import Config


@dataclass(frozen=True, slots=True)
class Pace:
    """Telegram's sending limits (core.telegram.org/bots/faq, "broadcasting to users").

    Zero in a field turns that limit off (tests do, to run fast).
    """

    per_chat_interval: float = 1.0  # seconds between two messages to one chat
    group_max: int = 20  # messages to one group or channel ...
    group_period: float = 60.0  # ... per this many seconds
    bot_max: int = 30  # messages from the bot to all chats ...
    bot_period: float = 1.0  # ... per this many seconds


def pace_of(config: Config) -> Pace:
    """The pace the config asks for ([telegram] per_chat_interval, group_per_minute, ...)."""
    return Pace(
        per_chat_interval=config.per_chat_interval,
        group_max=config.group_per_minute,
        bot_max=config.bot_per_second,
    )


def is_group(chat: str) -> bool:
    """Channels (`@name`, `-100…`) and groups (`-…`) have the per-minute limit; positive ids
    are users, which have only the per-chat interval."""
    return chat.startswith(("@", "-"))


def shared_spacing(chat: str, pace: Pace) -> float:
    """Seconds from Telegram's answer to the next message to `chat` when several instances
    share the chat's pace (relay.core.claims.ChatPace): the per-chat interval and, for a
    group or channel, its per-minute limit spread evenly (20 a minute: 3 s apart).

    One row per chat holds only the time of the next message, not a sliding window: the
    instance that takes a chat over knows nothing of the burst another sent before. Evenly
    spaced, the group limit holds whoever sends; a burst of 20 takes 60 s instead of 20 s,
    and the throughput over a minute is the same."""
    spacing = max(0.0, pace.per_chat_interval)
    if is_group(chat) and pace.group_max > 0 and pace.group_period > 0:
        spacing = max(spacing, pace.group_period / pace.group_max)
    return spacing


def bot_spacing(pace: Pace) -> float:
    """Seconds between two messages of the bot, whatever the chat, across instances (30 a
    second: 1/30 s apart); 0 when the limit is off. Booked in one shared row per bot."""
    if pace.bot_max <= 0 or pace.bot_period <= 0:
        return 0.0
    return pace.bot_period / pace.bot_max


def send_duration(count: int, chat: str, pace: Pace) -> float:
    """Seconds from the first to the last of `count` messages to `chat` under `pace`.

    The first goes at once (0 s); message k then goes `per_chat_interval` after message k-1,
    and in a group or channel no sooner than `group_period` after message k-`group_max`
    (a sliding window). 45 messages to a channel at Telegram's pace: 124 s. The bot-wide
    limit (30 a second) is left out: it binds only across many chats.
    """
    if count <= 1:
        return 0.0
    last = count - 1  # index of the last message; message 0 goes at time 0
    interval = max(0.0, pace.per_chat_interval)
    window = is_group(chat) and pace.group_max > 0 and pace.group_period > 0
    if not window or pace.group_max * interval >= pace.group_period:
        return last * interval  # the interval alone already keeps within the window
    bursts, within = divmod(last, pace.group_max)
    return bursts * pace.group_period + within * interval


def queue_duration(chats: Mapping[str, tuple[int, float]], pace: Pace) -> float:
    """Seconds until the last message of a queue could be sent under `pace`: `chats` maps a
    chat to (messages pending, seconds before its first may go). Chats go side by side."""
    return max(
        (wait + send_duration(count, chat, pace) for chat, (count, wait) in chats.items()),
        default=0.0,
    )


def human_wait(seconds: float) -> str:
    """45s, 2m04s, 3h05m: a wait as a person reads it."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
