"""Prometheus metrics of the running service, on a registry of their own.

Each `Metrics` owns a `CollectorRegistry` (never the library's global one), so tests and a
config reload can build as many as they like without "Duplicated timeseries" errors.

The per-board series live in plain dicts read by a small collector rather than in
prometheus_client's labelled Counter/Gauge objects, for three reasons:
- forgetting a board (a config reload removed it) is one dict pop, whatever failure reasons it
  accumulated, instead of one `remove()` per label combination we would have to track anyway;
- labelled counters also print a `_created` sample per series, which doubles the output for a
  service that may hold 10,000 boards (switching that off is a process-wide library toggle);
- a scrape reads one consistent snapshot taken under one lock.

Knows nothing of HTTP: `render()` gives the bytes and content type, the web module serves them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from relay.core.models import PollOutcome

# The classic text format, which generate_latest() writes; every Prometheus version reads it.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

POLL_RESULTS = ("ok", "unchanged", "failed")
DELIVERY_RESULTS = ("sent", "failed")
MAX_REASON_CHARS = 40  # reasons are short stable words; a long one would be a message, cut it

# Whole seconds matter for a poll: most take 0.1-2 s, a slow board with retries up to a minute.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(slots=True)
class _Board:
    """Everything counted for one board. Counters start at 0 so rate() sees the first event."""

    polls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(POLL_RESULTS, 0))
    failures: dict[str, int] = field(default_factory=dict)  # reason -> count
    new_posts: int = 0
    deliveries: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DELIVERY_RESULTS, 0))
    pending: int | None = None  # None until set_pending() names the board
    last_success: float | None = None  # Unix seconds; None (no sample) until a poll succeeds
    quiet: bool | None = None  # None until the quiet-board rule judged the board

    def copy(self) -> _Board:
        return _Board(
            dict(self.polls),
            dict(self.failures),
            self.new_posts,
            dict(self.deliveries),
            self.pending,
            self.last_success,
            self.quiet,
        )


class Metrics:
    """The service's counters and gauges. Thread-safe; every method is cheap.

    Series (all prefixed `relay_`): polls_total{board,result}, poll_failures_total{board,reason},
    new_posts_total{board}, deliveries_total{board,result}, deliveries_pending{board},
    task_restarts_total{task}, board_quiet{board} (1: no new post for longer than allowed),
    last_success_timestamp_seconds{board}, boards, poll_duration_seconds (histogram), and the
    process_* series of the process collector (Linux only: it reads /proc).
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._lock = threading.Lock()
        self._boards: dict[str, _Board] = {}
        self._board_count: int | None = None
        # No board label on the histogram: with 10,000 boards a per-board histogram would be
        # 10,000 x (10 buckets + +Inf + sum + count) series. Per-board latency is in the logs;
        # a board that stops answering shows in polls_total{result="failed"} and last_success.
        self._duration = Histogram(
            "relay_poll_duration_seconds",
            "Time one poll of one board took, all boards together.",
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        # A handful of task names at most: a plain labelled Counter is fine here.
        self._restarts = Counter(
            "relay_task_restarts",
            "Supervised tasks (deliveries, scheduler, watchdog) that died and were restarted.",
            ["task"],
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        self.registry.register(_BoardCollector(self))

    def observe_poll(self, outcome: PollOutcome, now: datetime) -> None:
        """Count one poll. `now` is aware: a success records it as the board's last success."""
        if not outcome.ok:
            result = "failed"
        elif outcome.unchanged:
            result = "unchanged"
        else:
            result = "ok"
        with self._lock:
            board = self._board(outcome.board_id)
            board.polls[result] += 1
            if outcome.ok:
                board.new_posts += len(outcome.new)
                board.last_success = now.timestamp()
            else:
                reason = outcome.reason.strip()[:MAX_REASON_CHARS] or "unknown"
                board.failures[reason] = board.failures.get(reason, 0) + 1
        self._duration.observe(max(outcome.elapsed_ms, 0) / 1000)

    def task_restarted(self, task: str) -> None:
        self._restarts.labels(task=task).inc()

    def delivery_sent(self, board_id: str) -> None:
        with self._lock:
            self._board(board_id).deliveries["sent"] += 1

    def delivery_failed(self, board_id: str) -> None:
        with self._lock:
            self._board(board_id).deliveries["failed"] += 1

    def set_pending(self, counts: Mapping[str, int]) -> None:
        """Set every board's pending deliveries; a board absent from `counts` now has none."""
        with self._lock:
            for board_id, board in self._boards.items():
                if board_id not in counts and board.pending is not None:
                    board.pending = 0
            for board_id, count in counts.items():
                self._board(board_id).pending = count

    def set_quiet(self, board_id: str, quiet: bool) -> None:
        """Whether the board is quiet: it answers, but no new post came for too long."""
        with self._lock:
            self._board(board_id).quiet = quiet

    def set_boards(self, count: int) -> None:
        """The number of boards the service polls (after each config load or reload)."""
        with self._lock:
            self._board_count = count

    def forget_board(self, board_id: str) -> None:
        """Drop every series of a board that a config reload removed. Unknown ids are ignored."""
        with self._lock:
            self._boards.pop(board_id, None)

    def render(self) -> tuple[bytes, str]:
        """The text exposition of this registry: (body, Content-Type)."""
        return generate_latest(self.registry), CONTENT_TYPE

    def _board(self, board_id: str) -> _Board:
        board = self._boards.get(board_id)
        if board is None:
            board = self._boards[board_id] = _Board()
        return board

    def _snapshot(self) -> tuple[dict[str, _Board], int | None]:
        with self._lock:
            return {k: v.copy() for k, v in self._boards.items()}, self._board_count


class _BoardCollector:
    """Turns a snapshot of the per-board dicts into metric families at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        boards, board_count = self._metrics._snapshot()
        polls = CounterMetricFamily(
            "relay_polls", "Polls of a board by result.", labels=["board", "result"]
        )
        failures = CounterMetricFamily(
            "relay_poll_failures",
            "Failed polls of a board by reason (http 503, layout, blocked, network, ...).",
            labels=["board", "reason"],
        )
        new_posts = CounterMetricFamily(
            "relay_new_posts", "Posts recorded as new on a board.", labels=["board"]
        )
        deliveries = CounterMetricFamily(
            "relay_deliveries", "Telegram messages by result.", labels=["board", "result"]
        )
        pending = GaugeMetricFamily(
            "relay_deliveries_pending", "Messages waiting to be sent.", labels=["board"]
        )
        last_success = GaugeMetricFamily(
            "relay_last_success_timestamp_seconds",
            "Unix time of the board's last successful poll.",
            labels=["board"],
        )
        quiet = GaugeMetricFamily(
            "relay_board_quiet",
            "1 when the board answers but has shown no new post for longer than quiet_after.",
            labels=["board"],
        )
        for board_id in sorted(boards):
            board = boards[board_id]
            if board.quiet is not None:
                quiet.add_metric([board_id], int(board.quiet))
            for result, count in board.polls.items():
                polls.add_metric([board_id, result], count)
            for reason in sorted(board.failures):
                failures.add_metric([board_id, reason], board.failures[reason])
            new_posts.add_metric([board_id], board.new_posts)
            for result, count in board.deliveries.items():
                deliveries.add_metric([board_id, result], count)
            if board.pending is not None:
                pending.add_metric([board_id], board.pending)
            if board.last_success is not None:
                last_success.add_metric([board_id], board.last_success)
        yield from (polls, failures, new_posts, deliveries, pending, last_success, quiet)
        if board_count is not None:
            yield GaugeMetricFamily("relay_boards", "Boards being polled.", value=board_count)
