"""Over loopback (Gnuboard simulator, fake Bot API): a post moved to another 말머리 is edited in
its chat once, with the new "[category] " prefix; categories read for the first time (the
board turns them on, or an older release stored none) are stored without editing anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from delivery_rig import Rig, board_entry

from relay.sim import BoardSimulator, SimBoard


@pytest.fixture
def qa(sim: BoardSimulator) -> SimBoard:
    board = sim.add_board("qa", "gnuboard")
    for i in range(3):
        board.add_post(f"기존 글 {i}", "작성자", "<p>본문</p>", category="잡담")
    return board


def stored_category(rig: Rig, post_id: int) -> str:
    return rig.store.posts("qa", [str(post_id)])[str(post_id)].category


async def test_a_post_moved_to_another_category_is_edited_once_with_the_new_prefix(
    tmp_path: Path, qa: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(qa, "@news", category_prefix=True)])
    await rig.poll()
    post = qa.add_post("환불 되나요", "손님", "<p>본문</p>", category="잡담")
    await rig.poll()
    await rig.drain()
    [sent] = fakebot.messages
    assert sent.text.startswith("<b>[잡담] ")
    qa.set_category(post.id, "질문")
    await rig.poll()
    report = await rig.drain()
    [edit] = fakebot.edits
    assert report.edited == 1 and edit.method == "editMessageText"
    assert edit.message_id == sent.message_id and edit.text.startswith("<b>[질문] ")
    assert "[잡담]" not in edit.text and stored_category(rig, post.id) == "질문"
    await rig.poll()
    await rig.drain()
    assert len(fakebot.edits) == 1


async def test_categories_read_for_the_first_time_edit_nothing(
    tmp_path: Path, qa: SimBoard, fakebot: Any
) -> None:
    qa.set_use_category(False)  # what an older release saw: no category on any row
    rig = Rig(tmp_path, fakebot, [board_entry(qa, "@news", category_prefix=True)])
    await rig.poll()
    posts = [qa.add_post(f"새 글 {i}", "손님", "<p>본문</p>", category="정보") for i in range(3)]
    await rig.poll()
    await rig.drain()
    assert len(fakebot.messages) == 3 and stored_category(rig, posts[0].id) == ""
    qa.set_use_category(True)
    await rig.poll()
    report = await rig.drain()
    assert report.edited == 0 and fakebot.edits == []
    assert [stored_category(rig, p.id) for p in posts] == ["정보"] * 3
    feed = (rig.config.feeds_dir / "qa.atom").read_text(encoding="utf-8")
    assert feed.count('term="정보"') == 3  # the feed was written again, with the categories
    qa.set_use_category(False)  # gone from the page again: kept, still no edit
    await rig.poll()
    await rig.drain()
    assert fakebot.edits == [] and stored_category(rig, posts[0].id) == "정보"
    qa.set_use_category(True)
    qa.set_category(posts[1].id, "질문")  # from now on a change is an edit
    await rig.poll()
    await rig.drain()
    [edit] = fakebot.edits
    assert edit.text.startswith("<b>[질문] 새 글 1")
