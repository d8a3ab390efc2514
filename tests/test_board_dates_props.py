"""Property: whatever a board prints and whenever it is polled, the date read is not after the
poll, and a form without its year (or day) is not further back than the longest span it can
name. Zones with DST are included: two datetimes in one zone compare by wall time, so a check
by wall time alone would let a skipped hour through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from relay.core.text import parse_board_date

ZONES = [ZoneInfo(name) for name in ("Asia/Seoul", "UTC", "America/New_York", "Europe/Berlin")]
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)  # a DST change makes a wall-clock day 23 or 25 hours long

two = st.integers(0, 99).map(lambda n: f"{n:02d}")
hours = st.integers(0, 23)
minutes = st.integers(0, 59)
clock = st.builds(lambda h, m: f"{h:02d}:{m:02d}", hours, minutes)
month_day = st.builds(
    lambda m, d, sep: f"{m:02d}{sep}{d:02d}",
    st.integers(1, 12),
    st.integers(1, 31),
    st.sampled_from(["-", ".", "/"]),
)


def _printed() -> st.SearchStrategy[tuple[str, timedelta | None]]:
    """(printed text, how far before the poll it may lie; None: the form names its year)."""
    units = {"초": 1, "분": 60, "시간": 3600, "일": 86400, "주": 7 * 86400, "개월": 30 * 86400}
    relative = st.builds(
        lambda n, unit, space: (f"{n}{space}{unit}{space}전", timedelta(seconds=n * units[unit])),
        st.integers(0, 5000),
        st.sampled_from(sorted(units)),
        st.sampled_from(["", " "]),
    )
    words = st.sampled_from([("오늘", 0), ("어제", 1), ("그제", 2), ("그저께", 2)]).flatmap(
        lambda word_days: st.one_of(st.just(""), clock).map(
            lambda at: (f"{word_days[0]} {at}".strip(), (word_days[1] + 1) * DAY + HOUR)
        )
    )
    return st.one_of(
        clock.map(lambda t: (t, DAY + HOUR)),
        st.builds(
            lambda h, m, s: (f"{h:02d}:{m:02d}:{s:02d}", DAY + HOUR), hours, minutes, minutes
        ),
        month_day.map(lambda md: (md, 367 * DAY)),
        st.builds(lambda md, t: (f"{md} {t}", 367 * DAY), month_day, clock),
        st.builds(lambda y, md: (f"{y}.{md}", None), two, month_day),
        st.builds(lambda y, md, t: (f"20{y}-{md} {t}", None), two, month_day, clock),
        relative.map(lambda rb: (rb[0], rb[1] + HOUR)),
        words,
        st.just(("방금 전", timedelta(0))),
    )


polls = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31), timezones=st.just(UTC)
)


@given(_printed(), polls, st.sampled_from(ZONES))
def test_a_printed_date_is_never_after_the_poll_and_within_its_span(
    form: tuple[str, timedelta | None], poll: datetime, zone: ZoneInfo
) -> None:
    text, span = form
    read = parse_board_date(text, poll, zone)
    if read is None:  # "02-30", "13.45": not a date at all
        return
    assert read.tzinfo is zone
    assert read.astimezone(UTC) <= poll, (text, poll, read)
    if span is not None:
        assert poll - read.astimezone(UTC) <= span, (text, poll, read)
