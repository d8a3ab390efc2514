"""How long Telegram's pace needs for a queue (for `relay status` and the drain's progress):
the closed form checked against a message-by-message simulation of the limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from relay.core.pace import (
    Pace,
    bot_spacing,
    human_wait,
    is_group,
    queue_duration,
    send_duration,
    shared_spacing,
)

TELEGRAM = Pace()
OFF = Pace(per_chat_interval=0, group_max=0, group_period=0, bot_max=0, bot_period=0)


def simulated(count: int, chat: str, pace: Pace) -> float:
    """Send times one by one: each after the last by the interval, and in a group no sooner
    than a period after the message `group_max` places before it."""
    times: list[float] = []
    for k in range(count):
        at = times[-1] + pace.per_chat_interval if times else 0.0
        if is_group(chat) and pace.group_max > 0 and pace.group_period > 0 and k >= pace.group_max:
            at = max(at, times[k - pace.group_max] + pace.group_period)
        times.append(at)
    return times[-1] if times else 0.0


def test_45_posts_to_a_channel_take_about_two_minutes_at_telegrams_pace() -> None:
    # 20 in the first minute (one a second), 20 in the second, 5 in the third
    assert send_duration(45, "@news", TELEGRAM) == 2 * 60 + 4
    assert send_duration(45, "-1001234567890", TELEGRAM) == 124


def test_a_user_chat_has_only_the_per_chat_interval() -> None:
    assert send_duration(45, "42", TELEGRAM) == 44


def test_nothing_or_one_message_needs_no_time() -> None:
    for count in (-1, 0, 1):
        assert send_duration(count, "@news", TELEGRAM) == 0


def test_with_the_limits_off_a_queue_goes_at_once() -> None:
    assert send_duration(1000, "@news", OFF) == 0


def test_a_slow_interval_makes_the_minute_limit_irrelevant() -> None:
    slow = Pace(per_chat_interval=5, group_max=20, group_period=60)
    assert send_duration(45, "@news", slow) == 44 * 5


@given(
    count=st.integers(0, 200),
    chat=st.sampled_from(["@channel", "-100123", "42"]),
    interval=st.sampled_from([0.0, 0.5, 1.0, 3.0, 7.0]),
    group_max=st.integers(0, 25),
    period=st.sampled_from([0.0, 10.0, 60.0]),
)
def test_the_closed_form_matches_a_message_by_message_simulation(
    count: int, chat: str, interval: float, group_max: int, period: float
) -> None:
    pace = Pace(per_chat_interval=interval, group_max=group_max, group_period=period)
    assert abs(send_duration(count, chat, pace) - simulated(count, chat, pace)) < 1e-6


def test_a_queue_takes_as_long_as_its_slowest_chat() -> None:
    chats = {"@news": (45, 0.0), "42": (10, 30.0), "@quiet": (1, 0.0)}
    assert queue_duration(chats, TELEGRAM) == 124
    assert queue_duration({"@news": (21, 200.0)}, TELEGRAM) == 260  # its flood wait, then 60 s
    assert queue_duration({}, TELEGRAM) == 0


def test_waits_read_as_people_say_them() -> None:
    assert [human_wait(s) for s in (0, 44.6, 124, 3599, 3600, 11_100)] == [
        "0s",
        "45s",
        "2m04s",
        "59m59s",
        "1h00m",
        "3h05m",
    ]


def test_across_instances_a_channel_s_minute_limit_is_an_even_spacing() -> None:
    telegram = Pace()  # 1 s per chat, 20 a minute per group or channel, 30 a second per bot
    assert shared_spacing("@news", telegram) == 3.0  # 60 s / 20: whoever sends next
    assert shared_spacing("-100200300", telegram) == 3.0
    assert shared_spacing("42", telegram) == 1.0  # a user: the per-chat interval only
    assert shared_spacing("@news", Pace(per_chat_interval=5.0)) == 5.0  # the larger wins
    assert shared_spacing("@news", Pace(per_chat_interval=0, group_max=0)) == 0.0
    assert bot_spacing(telegram) == 1 / 30
    assert bot_spacing(Pace(bot_max=0)) == 0.0
