"""The instances sharing a state, as people read them: `relay status`'s table and the status
page's section. Pure: every age is counted from the state's own clock at the time of
reading (`InstanceInfo.as_of`), so a viewer's clock changes nothing.

Shown only for a shared state: a single relay's `relay status` and page are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from relay.core.coordination import InstanceInfo
from relay.core.report import table

LABELS: dict[str, dict[str, str]] = {
    "ko": {
        "instances": "인스턴스", "alive": "동작 중", "gone": "응답 없음", "seen": "마지막 신호",
        "boards": "맡은 게시판", "since": "임대 경과", "none": "없음", "ago": "전",
    },
    "en": {
        "instances": "Instances", "alive": "alive", "gone": "not seen", "seen": "Last seen",
        "boards": "Boards held", "since": "lease age", "none": "none", "ago": "ago",
    },
}  # fmt: skip


def seconds(since: datetime, now: datetime) -> str:
    """An age in whole seconds up to an hour, then minutes: lease ages are short."""
    age = max(0, int((now - since).total_seconds()))
    return f"{age}s" if age < 3600 else f"{age // 60}m"


def held(info: InstanceInfo) -> str:
    """ "board (age) board (age) ..." for one instance, or "-"."""
    return " ".join(
        f"{lease.board_id} ({seconds(lease.taken, info.as_of)})" for lease in info.leases
    )


def instances_report(infos: Sequence[InstanceInfo]) -> str:
    """`relay status`'s table of instances: name, host, pid, alive, last seen, boards held
    with the age of each lease. Empty when there is none to show."""
    if not infos:
        return ""
    rows = [
        [
            i.name,
            f"{i.host}:{i.pid}",
            "alive" if i.alive else "gone",
            seconds(i.seen, i.as_of) + " ago",
            str(len(i.leases)),
            held(i) or "-",
        ]
        for i in infos
    ]
    return table(["instance", "host:pid", "state", "seen", "boards", "leases (age)"], rows)


def instances_html(infos: Sequence[InstanceInfo], lang: str) -> str:
    """The status page's section: one line per instance with the boards it holds."""
    if not infos:
        return ""
    t = LABELS.get(lang, LABELS["en"])
    items = []
    for i in infos:
        state = t["alive"] if i.alive else t["gone"]
        boards = held(i) or t["none"]
        items.append(
            f"<li><b>{escape(i.name)}</b> ({escape(i.host)}:{i.pid}) · {state} · "
            f"{t['seen']} {seconds(i.seen, i.as_of)} {t['ago']} · {t['boards']} "
            f"{len(i.leases)} ({t['since']}): {escape(boards)}</li>"
        )
    # Styled inline: the page of a single relay (no section) stays byte for byte the same.
    style = "padding-left:1.2rem;font-size:.9rem;margin:.3rem 0"
    return (
        f'<section class="instances"><h2>{t["instances"]}</h2>'
        f'<ul style="{style}">{"".join(items)}</ul></section>'
    )
