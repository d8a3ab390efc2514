"""Load the bundled seed board: the target Rhymix board's posts as they were captured."""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any

from relay.sim.board import SimBoard
from relay.sim.server import BoardSimulator

SEED_FILE = "seed_ranknews.json"


def load_seed() -> dict[str, Any]:
    """The seed JSON (relay/data/seed_ranknews.json), parsed."""
    text = resources.files("relay").joinpath("data", SEED_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def seed_board(sim: BoardSimulator, name: str = "ranknews", **knobs: Any) -> SimBoard:
    """Host the seed board under `name`; knobs override the seed's board settings."""
    seed = load_seed()
    settings = {k: v for k, v in seed["board"].items() if k not in ("engine", "mid")}
    board = sim.add_board(name, seed["board"]["engine"], **(settings | knobs))
    for item in seed["notices"] + seed["posts"]:
        board.add_post(
            item["title"],
            item["author"],
            item["body_html"],
            datetime.fromisoformat(item["published"]),
            item.get("comments", 0),
            image=item.get("image"),
            notice=item in seed["notices"],
            post_id=item["id"],
        )
    return board
