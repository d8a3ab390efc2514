"""The instances of a shared state on `relay status` and the status page: who is alive,
which boards each holds, and each lease's age counted by the state's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from relay.core.coordination import InstanceInfo, Lease
from relay.core.instances import instances_html, instances_report
from relay.core.statuspage import render_index

AS_OF = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def info(name: str, boards: dict[str, float], *, alive: bool = True) -> InstanceInfo:
    leases = tuple(
        Lease(b, name, 3, AS_OF + timedelta(seconds=30), AS_OF - timedelta(seconds=age))
        for b, age in boards.items()
    )
    return InstanceInfo(
        name, "web1", 4242, AS_OF - timedelta(hours=1), AS_OF - timedelta(seconds=4), leases,
        alive, AS_OF,
    )  # fmt: skip


def test_the_report_names_each_instance_its_boards_and_their_lease_ages() -> None:
    text = instances_report(
        [info("web1-4242-a", {"clien": 75, "ppomppu": 4000}), info("gone", {}, alive=False)]
    )
    assert "web1-4242-a" in text and "web1:4242" in text
    assert "clien (75s) ppomppu (66m)" in text
    assert "4s ago" in text
    line = next(row for row in text.splitlines() if row.startswith("gone"))
    assert "gone" in line.split()[2:3] and line.rstrip().endswith("-")


def test_nothing_is_shown_for_a_state_one_process_owns() -> None:
    assert instances_report([]) == ""
    page = render_index([], now=AS_OF, tz=ZoneInfo("Asia/Seoul"))
    assert "instances" not in page and "인스턴스" not in page


def test_the_status_page_lists_instances_in_korean_and_english_escaped() -> None:
    infos = [info("<b>web</b>", {"clien": 12})]
    page = render_index([], now=AS_OF, tz=UTC, lang="ko", instances=infos)
    assert "인스턴스" in page and "동작 중" in page and "clien (12s)" in page
    assert "<b>web</b>" not in page and "&lt;b&gt;web&lt;/b&gt;" in page
    assert "Boards held" in instances_html(infos, "en")
