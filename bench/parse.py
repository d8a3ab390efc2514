"""Benchmark: `relay.core.parse.parse_list_page` (selectolax) against the same extraction in
BeautifulSoup.

Why: board-relay polls many boards on a small machine, and the usual way to write a board relay
is BeautifulSoup with the stdlib "html.parser". This measures what selectolax buys on list pages
marked up the way the engines render them, so "< 1 ms per 20-row page and >= 10x faster than
BeautifulSoup" is a measurement, not a hope.

    .venv/bin/python bench/parse.py                      # every page in bench/pages/
    .venv/bin/python bench/parse.py --iterations 300 --json /tmp/parse.json
    .venv/bin/python bench/parse.py --profile            # cProfile of parse_list_page per page
    .venv/bin/python bench/parse.py --write-pages        # regenerate bench/pages/ first

Inputs live in bench/pages/ with a manifest (URL, preset, clock, zone, Content-Type), so every
run parses the same bytes. `--write-pages` renders the Rhymix default skin (the seed board) and
the Gnuboard5 basic skin with the bundled simulator's renderers at a fixed clock; the manifest
also names the sketchbook5 and Gnuboard 4 pages of tests/corpus/, read in place.

The BeautifulSoup side is a port of parse.py's list reading: the preset's CSS selectors (run by
soupsieve), the same id regexes, fallbacks and date parser. Before anything is timed, both sides
parse every page and must give equal posts (every Post field); a mismatch is printed and the
run exits 1 (that is also how a change to parse.py shows up here: port it, then re-measure).
The three parsers are timed in interleaved blocks of calls (see `measure`): wall time per call
with time.perf_counter_ns, after a warm-up, garbage collector on as in production. Figures
are the median and 95th percentile in µs.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import gc
import json
import math
import os
import platform
import pstats
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, tzinfo
from datetime import time as dtime
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup, Tag

from relay.core.engines import HIDDEN, PRESETS, Selectors
from relay.core.errors import LayoutError
from relay.core.models import Post
from relay.core.parse import ListPage, canonical_post_url, parse_list_page, post_id
from relay.core.text import decode_html, fold_whitespace, parse_board_date
from relay.sim import load_seed, render_gnuboard, render_rhymix
from relay.sim.board import SimBoard

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "bench" / "pages"
MANIFEST = PAGES / "manifest.json"
CORPUS = ROOT / "tests" / "corpus"
CORPUS_PAGES = {"sketchbook5.html": "rhymix_sketchbook5", "gnuboard4_cp949.html": "gnuboard4"}

# Rendered 8 minutes after the seed board's newest post: Rhymix shows its "new" icons, and
# Gnuboard prints HH:MM for today's posts and MM-DD for the notices.
NOW = "2025-02-05T12:00:00+09:00"
TZ = "Asia/Seoul"
HOST = "https://ranknews.example"
TARGET_US = 1000.0  # < 1 ms per list page
TARGET_RATIO = 10.0  # >= 10x faster than bs4 + html.parser
PARSERS = ("selectolax", "bs4_html_parser", "bs4_lxml")
BLOCK = 10  # timed calls of one parser in a row


@dataclass(frozen=True, slots=True)
class PageSpec:
    """One input: a saved page and how board-relay would be told to read it."""

    name: str
    file: str  # in bench/pages/
    preset: str  # a key of relay.core.engines.PRESETS
    url: str  # the list URL the page came from (relative links resolve against it)
    content_type: str  # as served; decode_html reads the charset from it
    now: str = NOW  # aware ISO 8601: short and relative board dates resolve against it
    tz: str = TZ
    source: str = ""
    parse: bool = True  # False: an input for decode_html only (same markup as another page)


# --- inputs -------------------------------------------------------------------------------------


def _board(engine: str, name: str, now: datetime, **knobs: Any) -> SimBoard:
    """A simulated board holding the seed posts (oldest first, so ids grow with time)."""
    board = SimBoard(name, engine, now=lambda: now, base_url=HOST, **knobs)  # type: ignore[arg-type]
    seed = load_seed()
    items = [(i, True) for i in seed["notices"]] + [(i, False) for i in seed["posts"]]
    for item, notice in sorted(items, key=lambda pair: pair[0]["published"]):
        board.add_post(
            item["title"],
            item["author"],
            item["body_html"],
            datetime.fromisoformat(item["published"]),
            item.get("comments", 0),
            image=item.get("image"),
            notice=notice,
            # Rhymix keeps the captured document_srl values; Gnuboard numbers its own wr_id.
            post_id=item["id"] if engine == "rhymix" else None,
        )
    return board


def write_pages() -> list[PageSpec]:
    """Render the inputs into bench/pages/ and write the manifest."""
    now = datetime.fromisoformat(NOW)
    seed = load_seed()["board"]
    rhymix = _board("rhymix", seed["mid"], now, title=seed["title"], page_size=20)
    gnu_args: dict[str, Any] = {"title": "자유게시판", "page_size": 20, "first_id": 48213}
    gnu = _board("gnuboard", "free", now, **gnu_args)
    gnu_cp949 = _board("gnuboard", "free", now, encoding="cp949", **gnu_args)
    sim = "relay.sim renderer, seed posts"
    gnu_url = HOST + gnu.list_path(1)
    pages: list[tuple[PageSpec, bytes | None]] = [
        (
            PageSpec("rhymix_default", "rhymix_default.html", "rhymix", HOST + rhymix.list_path(1),
                     "text/html; charset=UTF-8", source=f"{sim}, Rhymix default skin"),
            render_rhymix.list_page(rhymix, HOST, rhymix.list_path(1), rhymix.list_view(1), None)
            .encode("utf-8"),
        ),
        (
            PageSpec("gnuboard5_basic", "gnuboard5_basic.html", "gnuboard", gnu_url,
                     "text/html; charset=UTF-8", source=f"{sim}, Gnuboard5 basic skin"),
            render_gnuboard.list_page(gnu, HOST, gnu.list_view(1), None).encode("utf-8"),
        ),
        (
            PageSpec("gnuboard5_basic_cp949", "gnuboard5_basic_cp949.html", "gnuboard", gnu_url,
                     "text/html; charset=EUC-KR", source=f"{sim}, Gnuboard5 basic skin, cp949",
                     parse=False),
            # Encoded as the simulator's server sends a cp949 board.
            render_gnuboard.list_page(gnu_cp949, HOST, gnu_cp949.list_view(1), None)
            .encode("cp949", "xmlcharrefreplace"),
        ),
    ]  # fmt: skip
    for file, name in CORPUS_PAGES.items():
        html, expected = CORPUS / file, CORPUS / file.replace(".html", ".expected.json")
        if not (html.is_file() and expected.is_file()):
            continue
        meta = json.loads(expected.read_text(encoding="utf-8"))
        # Read in place (a path relative to the repository), not copied into bench/pages/.
        spec = PageSpec(name, f"tests/corpus/{file}", meta["engine"], meta["url"],
                        meta["content_type"], meta["now"], meta["timezone"],
                        f"tests/corpus/{file}")  # fmt: skip
        pages.append((spec, None))
    PAGES.mkdir(parents=True, exist_ok=True)
    for spec, body in pages:
        if body is not None:
            (PAGES / spec.file).write_bytes(body)
    specs = [spec for spec, _ in pages]
    text = json.dumps([asdict(s) for s in specs], ensure_ascii=False, indent=2)
    MANIFEST.write_text(text + "\n", encoding="utf-8")
    return specs


def page_path(spec: PageSpec) -> Path:
    """A rendered page in bench/pages/, or a corpus page where it lives (tests/corpus/)."""
    return ROOT / spec.file if "/" in spec.file else PAGES / spec.file


def load_pages() -> list[PageSpec]:
    if not MANIFEST.is_file():
        raise SystemExit(f"{MANIFEST} is missing: run with --write-pages")
    return [PageSpec(**entry) for entry in json.loads(MANIFEST.read_text(encoding="utf-8"))]


# --- the same extraction with BeautifulSoup -----------------------------------------------------
# A port of relay/parse.py's list reading, step for step; only the tree library differs.

_CURRENT_MARKS = ("»", "열람중", "현재글", "&raquo;")
_NOTICE_WORDS = ("공지", "notice", "공지사항", "필독")
_TRAILING_COUNT = re.compile(r"\s*[\[(]\s*\+?(\d{1,6})\s*[\])]\s*$")
_LEADING_COUNT = re.compile(r"\s*[\[(]\s*\+?(\d{1,6})\s*[\])]")
_DIGITS = re.compile(r"\d[\d,]*")
_BARE_TIME = re.compile(r"(\d{1,2}):(\d{2})")


def bs4_parse_list(
    html: str, *, url: str, selectors: Selectors, now: datetime, tz: tzinfo, features: str
) -> list[Post]:
    soup = BeautifulSoup(html, features)
    base_tag = soup.select_one("base[href]")
    href = str(base_tag.get("href") or "").strip() if base_tag is not None else ""
    base = urljoin(url, href) if href else url
    for node in soup.select(HIDDEN):
        if not node.decomposed:  # inside a match removed before it
            node.decompose()
    patterns = [re.compile(p) for p in selectors.id_pattern]
    for row_selector in selectors.row:
        rows = (_bs4_row(r, base, selectors, patterns, now, tz) for r in soup.select(row_selector))
        posts = _merge(post for post in rows if post is not None)
        if posts:
            return posts
    raise LayoutError(f"{url}: no post rows", url=url, selector=", ".join(selectors.row))


def _bs4_row(
    row: Tag,
    base: str,
    selectors: Selectors,
    patterns: list[re.Pattern[str]],
    now: datetime,
    tz: tzinfo,
) -> Post | None:
    link, found_id = None, None
    for anchor in [a for s in selectors.link for a in row.select(s)] + row.select("a[href]"):
        href = str(anchor.get("href") or "").strip()
        if href and not href.startswith(("#", "mailto:")):
            found_id = post_id(urljoin(base, href), patterns)
            if found_id:
                link = anchor
                break
    if link is None or found_id is None:
        return None
    url = canonical_post_url(urljoin(base, str(link.get("href") or "")))
    title_node = _bs4_first(row, selectors.title) or link
    comment_node = _bs4_first(row, selectors.comments)
    digits = _DIGITS.search(_bs4_text(comment_node)) if comment_node is not None else None
    comments = int(digits.group().replace(",", "")) if digits else 0
    comments = comments or _bs4_count_beside(link)
    if selectors.strip:
        title_node = copy.copy(title_node)  # a detached copy: the row stays intact
        for junk in title_node.select(", ".join(selectors.strip)):
            if not junk.decomposed:
                junk.decompose()
    title = _bs4_text(title_node)
    trailing = _TRAILING_COUNT.search(title)
    if trailing and comments == 0:
        comments = int(trailing.group(1))
        title = title[: trailing.start()].rstrip()
    number_text = _bs4_text(_bs4_first(row, selectors.number))
    if not number_text:
        cell = _bs4_text(row.select_one("td"))
        number_text = cell if cell.replace(",", "").isdigit() or cell in _CURRENT_MARKS else ""
    notice = any(row.css.match(s) or row.select_one(s) is not None for s in selectors.notice)
    notice = notice or number_text.strip().lower() in _NOTICE_WORDS
    number = None
    if not notice and not any(mark in number_text for mark in _CURRENT_MARKS):
        plain = number_text.replace(",", "")
        number = int(plain) if plain.isdigit() else None
    return Post(
        id=found_id,
        url=url,
        title=title or f"#{found_id}",
        number=number,
        author=_bs4_text(_bs4_first(row, selectors.author)),
        published=_bs4_date(row, selectors, now, tz),
        notice=notice,
        comments=comments,
    )


def _bs4_count_beside(link: Tag) -> int:
    """A "(17)" or "[3]" printed right after the title link, in legacy skins."""
    cell = link.parent
    while cell is not None and cell.name not in ("td", "li", "tr", "div"):
        cell = cell.parent
    if cell is None:
        return 0
    match = _LEADING_COUNT.match(_bs4_text(cell).replace(_bs4_text(link), "", 1))
    return int(match.group(1)) if match else 0


def _bs4_date(row: Tag, selectors: Selectors, now: datetime, tz: tzinfo) -> datetime | None:
    node = _bs4_first(row, selectors.date)
    for cell in [node] if node is not None else list(reversed(row.select("td"))):
        shown = parse_board_date(_bs4_text(cell), now, tz)
        hint = str(cell.get("title") or "")
        hinted = parse_board_date(hint, now, tz) if hint else None
        if shown is None:
            if hinted is not None:
                return hinted
            continue
        # The title attribute only refines a date-only cell: to the time it shows ("10:21")
        # on the cell's day, or to its moment when it names the same day.
        bare = _BARE_TIME.fullmatch(hint.strip())
        if shown.time() == dtime(0) and bare:
            return shown.replace(hour=int(bare[1]), minute=int(bare[2]))
        if hinted is not None and hinted.date() == shown.date() and shown.time() == dtime(0):
            return hinted
        return shown
    return None


def _bs4_first(scope: Tag, selectors: Iterable[str]) -> Tag | None:
    for selector in selectors:
        node = scope.select_one(selector)
        if node is not None:
            return node
    return None


def _bs4_text(node: Tag | None) -> str:
    return fold_whitespace(node.get_text(" ")) if node is not None else ""


def _merge(posts: Iterable[Post]) -> list[Post]:
    """One post per id, in first-seen order (a notice may be listed twice)."""
    merged: dict[str, Post] = {}
    for post in posts:
        first = merged.get(post.id)
        if first is None:
            merged[post.id] = post
            continue
        merged[post.id] = Post(
            id=first.id,
            url=first.url,
            title=first.title,
            number=first.number if first.number is not None else post.number,
            author=first.author or post.author,
            published=first.published or post.published,
            notice=first.notice or post.notice,
            comments=max(first.comments, post.comments),
        )
    return list(merged.values())


# --- verifying and timing -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """A decoded page and the three ways of reading it."""

    spec: PageSpec
    size: int  # bytes as served
    html: str
    selectors: Selectors
    now: datetime
    tz: tzinfo

    def selectolax(self) -> list[Post]:
        return parse_list_page(
            ListPage(self.html, self.spec.url, self.now, self.tz), self.selectors
        ).posts

    def bs4(self, features: str) -> list[Post]:
        return bs4_parse_list(
            self.html,
            url=self.spec.url,
            selectors=self.selectors,
            now=self.now,
            tz=self.tz,
            features=features,
        )

    def calls(self) -> dict[str, Callable[[], object]]:
        return {
            "selectolax": self.selectolax,
            "bs4_html_parser": partial(self.bs4, "html.parser"),
            "bs4_lxml": partial(self.bs4, "lxml"),
        }


def cases(specs: Iterable[PageSpec]) -> list[Case]:
    out = []
    for spec in specs:
        if spec.parse:
            body = page_path(spec).read_bytes()
            html = decode_html(body, spec.content_type).text
            now, tz = datetime.fromisoformat(spec.now), ZoneInfo(spec.tz)
            out.append(Case(spec, len(body), html, PRESETS[spec.preset], now, tz))
    return out


# Fields the BeautifulSoup port does not read (they come from header-column heuristics and
# icon selectors): left out of the comparison. The port does less work than parse_list_page
# for them, so its times are a lower bound and the speed ratio errs in bs4's favour.
NOT_PORTED = frozenset({"category", "views", "votes"})


def verify(all_cases: list[Case]) -> list[str]:
    """Where the bs4 ports disagree with parse_list_page; empty when every post is equal."""
    problems = []
    for case in all_cases:
        ours = case.selectolax()
        for features in ("html.parser", "lxml"):
            theirs = case.bs4(features)
            where = f"{case.spec.name} (bs4 {features})"
            if [p.id for p in ours] != [p.id for p in theirs]:
                problems.append(f"{where} ids: {[p.id for p in ours]} != {[p.id for p in theirs]}")
                continue
            for a, b in zip(ours, theirs, strict=True):
                for f in fields(Post):
                    if f.name in NOT_PORTED:
                        continue
                    left, right = getattr(a, f.name), getattr(b, f.name)
                    if left != right:
                        problems.append(f"{where} post {a.id} {f.name}: {left!r} != {right!r}")
    return problems


def _summary(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {"median_us": statistics.median(ordered) / 1000, "p95_us": p95 / 1000}


def measure(
    calls: dict[str, Callable[[], object]], iterations: int, block: int = BLOCK
) -> dict[str, dict[str, float]]:
    """Per-call wall time of each call, after a warm-up, in interleaved blocks.

    Blocks of `block` calls of one parser take turns, so a change in machine load hits every
    parser alike; each block starts after gc.collect() so that no parser pays for collecting
    another's garbage (a bs4 tree is full of reference cycles) while each pays for its own.
    """
    for _ in range(max(5, iterations // 10)):
        for call in calls.values():
            call()
    samples: dict[str, list[int]] = {name: [] for name in calls}
    clock = time.perf_counter_ns
    while len(samples[next(iter(calls))]) < iterations:
        for name, call in calls.items():
            gc.collect()
            for _ in range(min(block, iterations - len(samples[name]))):
                start = clock()
                call()
                samples[name].append(clock() - start)
    return {name: _summary(values) for name, values in samples.items()}


def run(all_cases: list[Case], iterations: int) -> list[dict[str, Any]]:
    results = []
    for case in all_cases:
        posts = case.selectolax()
        timings = measure(case.calls(), iterations)
        base = timings["selectolax"]["median_us"]
        results.append(
            {
                "page": case.spec.name,
                "source": case.spec.source,
                "bytes": case.size,
                "rows": len(posts),
                "notices": sum(p.notice for p in posts),
                **timings,
                "ratio_html_parser": timings["bs4_html_parser"]["median_us"] / base,
                "ratio_lxml": timings["bs4_lxml"]["median_us"] / base,
            }
        )
    return results


def time_decoding(specs: list[PageSpec], iterations: int) -> list[dict[str, Any]]:
    """decode_html on each cp949 input, as served and with no charset in the header."""
    out = []
    for spec in specs:
        body = page_path(spec).read_bytes()
        if decode_html(body, spec.content_type).encoding != "cp949":
            continue
        for content_type in dict.fromkeys((spec.content_type, "text/html")):
            timing = measure({"decode": partial(decode_html, body, content_type)}, iterations * 5)
            winner = decode_html(body, content_type).source
            out.append(
                {"page": spec.name, "bytes": len(body), "content_type": content_type,
                 "source": winner, **timing["decode"]}
            )  # fmt: skip
    return out


def profile(all_cases: list[Case], iterations: int) -> None:
    """cProfile of parse_list_page per page (selectolax's C calls count as their caller's)."""
    for case in all_cases:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(iterations):
            case.selectolax()
        profiler.disable()
        print(f"\n== {case.spec.name}: parse_list_page x {iterations} ==")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(18)


# --- report -------------------------------------------------------------------------------------


def environment(iterations: int) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
        "selectolax": version("selectolax"),
        "bs4": version("beautifulsoup4"),
        "lxml": version("lxml"),
        "iterations": iterations,
    }


def print_report(results: list[dict[str, Any]], decoding: list[dict[str, Any]]) -> None:
    head = (
        f"{'page':<20} {'rows':>4} {'selectolax':>10} {'p95':>6}  {'bs4 html.parser':>15} "
        f"{'p95':>6} {'ratio':>6}  {'bs4 lxml':>8} {'p95':>6} {'ratio':>6}"
    )
    print("parse_list_page per page: median and p95, µs\n" + head + "\n" + "-" * len(head))
    for r in results:
        lex, hp, lx = (r[name] for name in PARSERS)
        print(
            f"{r['page']:<20} {r['rows']:>4} {lex['median_us']:>10.0f} {lex['p95_us']:>6.0f}  "
            f"{hp['median_us']:>15.0f} {hp['p95_us']:>6.0f} {r['ratio_html_parser']:>5.1f}x  "
            f"{lx['median_us']:>8.0f} {lx['p95_us']:>6.0f} {r['ratio_lxml']:>5.1f}x"
        )
    print()
    for r in results:
        median, ratio = r["selectolax"]["median_us"], r["ratio_html_parser"]
        print(
            f"{r['page']:<20} < 1 ms: {'met' if median < TARGET_US else 'MISSED':<6} "
            f"({median / 1000:.2f} ms)   >= {TARGET_RATIO:.0f}x bs4(html.parser): "
            f"{'met' if ratio >= TARGET_RATIO else 'MISSED':<6} ({ratio:.1f}x)"
        )
    if decoding:
        print("\ndecode_html on cp949 pages: median and p95, µs")
        for d in decoding:
            print(
                f"{d['page']:<22} {d['bytes']:>6} B  Content-Type {d['content_type']!r:<28} "
                f"-> {d['source']:<7} {d['median_us']:>6.0f} {d['p95_us']:>6.0f}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=100, help="timed calls per parser/page")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument("--write-pages", action="store_true", help="regenerate bench/pages/")
    parser.add_argument("--profile", action="store_true", help="cProfile parse_list_page and exit")
    args = parser.parse_args(argv)
    if args.iterations < 1:
        parser.error("--iterations must be at least 1")
    specs = write_pages() if args.write_pages else load_pages()
    all_cases = cases(specs)
    if args.profile:
        profile(all_cases, args.iterations)
        return 0
    problems = verify(all_cases)
    if problems:
        print("selectolax and BeautifulSoup read the pages differently:", file=sys.stderr)
        print("\n".join("  " + line for line in problems), file=sys.stderr)
        return 1
    env = environment(args.iterations)
    print(
        f"python {env['python']}, {env['cpus']} cpus, load {env['load_average'][0]:.2f}; "
        f"selectolax {env['selectolax']}, bs4 {env['bs4']}, lxml {env['lxml']}; "
        f"{args.iterations} iterations; {len(all_cases)} pages, both sides read the same posts\n"
    )
    results = run(all_cases, args.iterations)
    decoding = time_decoding(specs, args.iterations)
    print_report(results, decoding)
    if args.json:
        env["load_average_after"] = os.getloadavg()
        figures = {"environment": env, "pages": results, "decode_html": decoding}
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
