"""relay.service.metrics: what a Prometheus scrape would read after the service counted some events.

Every assertion goes through render() and prometheus_client's own text parser, so the tests
check the exposition a scraper sees, not the object's internals.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from relay.core.models import PollOutcome, StoredPost
from relay.service.metrics import Metrics

NOW = datetime(2025, 2, 5, 12, 0, tzinfo=UTC)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(metrics: Metrics) -> Samples:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    out: Samples = {}
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def board_series(samples: Samples, board: str) -> list[str]:
    return sorted(name for name, labels in samples if ("board", board) in labels)


def post(board: str, post_id: str) -> StoredPost:
    return StoredPost(
        board_id=board,
        id=post_id,
        url=f"https://example.com/{post_id}",
        title=f"post {post_id}",
        number=None,
        author="",
        published=None,
        first_seen=NOW,
        updated=NOW,
    )


def ok(board: str, *new: str, elapsed_ms: int = 300) -> PollOutcome:
    posts = tuple(post(board, i) for i in new)
    return PollOutcome(board_id=board, ok=True, new=posts, elapsed_ms=elapsed_ms)


def unchanged(board: str) -> PollOutcome:
    return PollOutcome(board_id=board, ok=True, unchanged=True, elapsed_ms=100)


def failed(board: str, reason: str) -> PollOutcome:
    return PollOutcome(board_id=board, ok=False, reason=reason, error="boom", elapsed_ms=2000)


def test_poll_results_are_counted_per_board_and_result() -> None:
    m = Metrics()
    m.observe_poll(ok("ranknews", "1", "2", "3"), NOW)
    m.observe_poll(unchanged("ranknews"), NOW)
    m.observe_poll(unchanged("ranknews"), NOW)
    m.observe_poll(failed("ranknews", "http 503"), NOW)
    m.observe_poll(failed("free", "layout"), NOW)
    s = scrape(m)
    assert value(s, "relay_polls_total", board="ranknews", result="ok") == 1
    assert value(s, "relay_polls_total", board="ranknews", result="unchanged") == 2
    assert value(s, "relay_polls_total", board="ranknews", result="failed") == 1
    assert value(s, "relay_new_posts_total", board="ranknews") == 3
    assert value(s, "relay_poll_failures_total", board="ranknews", reason="http 503") == 1
    assert value(s, "relay_poll_failures_total", board="free", reason="layout") == 1
    assert value(s, "relay_poll_failures_total", board="ranknews", reason="layout") is None


def test_a_board_starts_with_every_counter_at_zero_so_rate_sees_the_first_event() -> None:
    m = Metrics()
    m.observe_poll(failed("free", "blocked"), NOW)
    s = scrape(m)
    assert value(s, "relay_polls_total", board="free", result="ok") == 0
    assert value(s, "relay_polls_total", board="free", result="unchanged") == 0
    assert value(s, "relay_new_posts_total", board="free") == 0
    assert value(s, "relay_deliveries_total", board="free", result="sent") == 0
    assert value(s, "relay_deliveries_total", board="free", result="failed") == 0


def test_a_failure_with_no_reason_is_counted_as_unknown() -> None:
    m = Metrics()
    m.observe_poll(failed("free", ""), NOW)
    assert value(scrape(m), "relay_poll_failures_total", board="free", reason="unknown") == 1


def test_last_success_moves_on_ok_and_unchanged_polls_never_on_failures() -> None:
    m = Metrics()
    m.observe_poll(failed("free", "network"), NOW)
    assert value(scrape(m), "relay_last_success_timestamp_seconds", board="free") is None
    m.observe_poll(ok("free"), NOW)
    m.observe_poll(unchanged("free"), NOW + timedelta(minutes=5))
    m.observe_poll(failed("free", "network"), NOW + timedelta(minutes=10))
    last = value(scrape(m), "relay_last_success_timestamp_seconds", board="free")
    assert last == (NOW + timedelta(minutes=5)).timestamp()


def test_poll_duration_is_one_histogram_without_a_board_label() -> None:
    m = Metrics()
    m.observe_poll(ok("a", elapsed_ms=300), NOW)
    m.observe_poll(failed("b", "network"), NOW)  # 2000 ms
    s = scrape(m)
    assert value(s, "relay_poll_duration_seconds_count") == 2
    assert value(s, "relay_poll_duration_seconds_sum") == pytest.approx(2.3)
    assert value(s, "relay_poll_duration_seconds_bucket", le="0.5") == 1
    assert value(s, "relay_poll_duration_seconds_bucket", le="+Inf") == 2
    durations = [labels for name, labels in s if name.startswith("relay_poll_duration")]
    assert not any(key == "board" for labels in durations for key, _ in labels)


def test_deliveries_are_counted_sent_and_failed() -> None:
    m = Metrics()
    for _ in range(3):
        m.delivery_sent("ranknews")
    m.delivery_failed("ranknews")
    s = scrape(m)
    assert value(s, "relay_deliveries_total", board="ranknews", result="sent") == 3
    assert value(s, "relay_deliveries_total", board="ranknews", result="failed") == 1


def test_pending_gauges_follow_the_latest_mapping_and_absent_boards_drop_to_zero() -> None:
    m = Metrics()
    m.observe_poll(ok("quiet"), NOW)  # never named by set_pending: no pending series
    m.set_pending({"ranknews": 4, "free": 2})
    s = scrape(m)
    assert value(s, "relay_deliveries_pending", board="ranknews") == 4
    assert value(s, "relay_deliveries_pending", board="free") == 2
    m.set_pending({"ranknews": 1})
    s = scrape(m)
    assert value(s, "relay_deliveries_pending", board="ranknews") == 1
    assert value(s, "relay_deliveries_pending", board="free") == 0
    assert value(s, "relay_deliveries_pending", board="quiet") is None


def test_boards_gauge_reports_the_configured_count() -> None:
    m = Metrics()
    assert value(scrape(m), "relay_boards") is None
    m.set_boards(3)
    assert value(scrape(m), "relay_boards") == 3


def test_forget_board_drops_every_series_of_that_board_only() -> None:
    m = Metrics()
    for board in ("gone", "kept"):
        m.observe_poll(ok(board, "1"), NOW)
        m.observe_poll(failed(board, "http 503"), NOW)
        m.observe_poll(failed(board, "layout"), NOW)
        m.delivery_sent(board)
    m.set_pending({"gone": 2, "kept": 1})
    before = board_series(scrape(m), "gone")
    assert len(before) == 10  # 3 polls, 2 reasons, new posts, 2 deliveries, pending, last success
    m.forget_board("gone")
    m.forget_board("never-seen")  # ignored
    s = scrape(m)
    assert board_series(s, "gone") == []
    assert board_series(s, "kept") == before
    assert value(s, "relay_poll_duration_seconds_count") == 6  # the histogram keeps its history


def test_two_instances_share_no_state() -> None:
    first, second = Metrics(), Metrics()
    first.observe_poll(ok("ranknews", "1"), NOW)
    first.delivery_sent("ranknews")
    first.set_boards(1)
    s = scrape(second)
    assert board_series(s, "ranknews") == []
    assert value(s, "relay_boards") is None
    assert value(s, "relay_poll_duration_seconds_count") == 0


def test_board_ids_with_quotes_and_backslashes_survive_the_text_format() -> None:
    m = Metrics()
    odd = 'a"b\\c\nd'
    m.delivery_sent(odd)
    assert value(scrape(m), "relay_deliveries_total", board=odd, result="sent") == 1


def test_counters_carry_no_created_series() -> None:
    m = Metrics()
    m.observe_poll(ok("a"), NOW)
    assert not [name for name, _ in scrape(m) if name.startswith("relay_polls_created")]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the collector reads /proc")
def test_process_series_are_on_the_instance_registry() -> None:
    s = scrape(Metrics())
    assert value(s, "process_cpu_seconds_total") is not None
    assert (value(s, "process_resident_memory_bytes") or 0) > 0
