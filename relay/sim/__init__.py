"""The bundled example boards: an HTTP server that renders Rhymix and Gnuboard 5 boards the
way their default skins do, with knobs for what real sites do wrong (faults, charsets,
missing validators). Used by `relay demo`, the tests and the benchmarks; run it alone with
`python -m relay.sim --port 8080`.

The simulator binds its port when constructed (so `base_url` is known before `start`); stop
it even if it never started, and do not restart a stopped one.

    records.py          the records: SimPost, Fault, SimRequest, PageView
    board.py            posts, paging, URLs, queued faults, request log (no HTTP, no HTML)
    render_rhymix.py    Rhymix 2 default layout + default board skin
    render_gnuboard.py  Gnuboard 5 basic theme + basic board skin (list pages, layout)
    render_gnuboard_view.py   its article pages
    markup.py pages.py  shared bits; error and bot-challenge pages
    server.py           aiohttp server, routing, encodings, 304s, faults
    faults.py           cut connections, huge pages, hostile answers (bombs, endless bodies)
    seed.py             the captured target board (relay/data/seed_ranknews.json)
"""

from relay.sim.board import FAULT_KINDS, HOSTILE_KINDS, SimBoard
from relay.sim.records import PageView, SimPost, SimRequest
from relay.sim.seed import load_seed, seed_board
from relay.sim.server import BoardSimulator

__all__ = [
    "FAULT_KINDS",
    "HOSTILE_KINDS",
    "BoardSimulator",
    "PageView",
    "SimBoard",
    "SimPost",
    "SimRequest",
    "load_seed",
    "seed_board",
]
