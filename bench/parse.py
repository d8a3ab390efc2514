"""Benchmark: `relay.parse.parse_list` (selectolax) against the same extraction in BeautifulSoup.

Why: board-relay polls many boards on a small machine, and the usual way to write a board relay
is BeautifulSoup with the stdlib "html.parser". This measures what choosing selectolax buys,
on list pages rendered the way the engines render them, so the claim "< 1 ms per 20-row page
and >= 10x faster than BeautifulSoup" is a measurement, not a hope.

    .venv/bin/python bench/parse.py                   # time every page in bench/pages/
    .venv/bin/python bench/parse.py --iterations 500 --json /tmp/parse.json
    .venv/bin/python bench/parse.py --profile         # cProfile of parse_list per page
    .venv/bin/python bench/parse.py --write-pages     # regenerate bench/pages/ (see below)

The inputs live in bench/pages/ with a manifest (URL, preset, clock, timezone, Content-Type)
so every run parses the same bytes. `--write-pages` renders them with the bundled simulator's
renderers (relay/sim) at a fixed clock, and copies the sketchbook5 and Gnuboard 4 pages of
tests/corpus/ when that corpus has them.

Before timing, both implementations parse every page and must give the same posts (id, title,
number, notice flag, author, date, comment count, URL); a mismatch is printed and the run exits 1.
Timings are wall-clock per call (time.perf_counter_ns), after a warm-up, garbage collector left
on as in production; the table shows the median and the 95th percentile in microseconds.
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
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup, Tag

from relay.engines import HIDDEN, PRESETS, Selectors
from relay.errors import LayoutError
from relay.models import Post
from relay.parse import canonical_post_url, parse_list, post_id
from relay.sim import load_seed, render_gnuboard, render_rhymix
from relay.sim.board import SimBoard
from relay.text import decode_html, fold_whitespace, parse_board_date

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "bench" / "pages"
MANIFEST = PAGES / "manifest.json"
CORPUS = ROOT / "tests" / "corpus"

# The clock the pages are rendered and parsed at: 8 minutes after the seed board's newest post,
# so Rhymix shows its "new" icons and Gnuboard prints HH:MM for today and MM-DD for notices.
NOW = "2025-02-05T12:00:00+09:00"
TZ = "Asia/Seoul"
HOST = "https://ranknews.example"
TARGET_US = 1000.0  # < 1 ms per list page
TARGET_RATIO = 10.0  # >= 10x faster than bs4 + html.parser
BS4_FEATURES = ("html.parser", "lxml")


@dataclass(frozen=True, slots=True)
class PageSpec:
    """One benchmark input: a saved page and how board-relay would be told to read it."""

    name: str
    file: str  # in bench/pages/
    preset: str  # a key of relay.engines.PRESETS
    url: str  # the list URL the page was fetched from (links resolve against it)
    content_type: str  # as the server sent it; decode_html reads the charset from it
    now: str = NOW  # ISO 8601, aware: relative and short board dates resolve against it
    tz: str = TZ
    source: str = ""  # where the bytes came from
    parse: bool = True  # False: only a decoding input (same markup as another page)


# --- inputs -------------------------------------------------------------------------------------


def _seed_items() -> list[tuple[dict[str, Any], bool]]:
    seed = load_seed()
    return [(item, True) for item in seed["notices"]] + [(item, False) for item in seed["posts"]]


def _rhymix_page(now: datetime) -> str:
    """The seed board (the target Rhymix board) as its default skin lists page 1."""
    seed = load_seed()
    settings = {k: v for k, v in seed["board"].items() if k not in ("engine", "mid")}
    board = SimBoard(seed["board"]["mid"], "rhymix", now=lambda: now, base_url=HOST, **settings)
    for item, notice in _seed_items():
        board.add_post(
            item["title"],
            item["author"],
            item["body_html"],
            datetime.fromisoformat(item["published"]),
            item.get("comments", 0),
            image=item.get("image"),
            notice=notice,
            post_id=item["id"],
        )
    path = board.list_path(1)
    return render_rhymix.list_page(board, HOST, path, board.list_view(1), None)


def _gnuboard_page(now: datetime, encoding: str) -> str:
    """The seed posts on a Gnuboard 5 basic-skin board of 20 rows (wr_id numbering)."""
    board = SimBoard(
        "free",
        "gnuboard",
        title="자유게시판",
        page_size=20,
        now=lambda: now,
        base_url=HOST,
        first_id=48213,
        encoding=encoding,  # type: ignore[arg-type]
    )
    items = sorted(_seed_items(), key=lambda pair: pair[0]["published"])
    for item, notice in items:
        board.add_post(
            item["title"],
            item["author"],
            item["body_html"],
            datetime.fromisoformat(item["published"]),
            item.get("comments", 0),
            image=item.get("image"),
            notice=notice,
        )
    return render_gnuboard.list_page(board, HOST, board.list_view(1), None)


def _corpus_pages() -> list[tuple[PageSpec, bytes]]:
    """The sketchbook5 and Gnuboard 4 pages of tests/corpus/, if that corpus exists.

    A case is `name.html` next to `name.expected.json`; the JSON may give `url`, `preset` (or
    `engine`), `now`, `tz` and `content_type`, which the benchmark then uses as the tests do.
    """
    found: list[tuple[PageSpec, bytes]] = []
    if not CORPUS.is_dir():
        return found
    for path in sorted(CORPUS.rglob("*.html")):
        label = str(path.relative_to(CORPUS)).lower()
        if "sketchbook" in label:
            name, preset = "rhymix_sketchbook5", "rhymix"
        elif "gnuboard4" in label or "g4" in label.split("/")[-1]:
            name, preset = "gnuboard4", "gnuboard"
        else:
            continue
        if any(spec.name == name for spec, _ in found):
            continue
        meta: dict[str, Any] = {}
        expected = path.with_name(path.name.removesuffix(".html") + ".expected.json")
        if expected.is_file():
            meta = json.loads(expected.read_text(encoding="utf-8"))
        body = path.read_bytes()
        spec = PageSpec(
            name=name,
            file=f"{name}.html",
            preset=str(meta.get("preset") or meta.get("engine") or preset),
            url=str(meta.get("url") or HOST + "/"),
            content_type=str(meta.get("content_type") or "text/html"),
            now=str(meta.get("now") or NOW),
            tz=str(meta.get("tz") or meta.get("timezone") or TZ),
            source=f"tests/corpus/{path.relative_to(CORPUS)}",
        )
        found.append((spec, body))
    return found


def write_pages() -> list[PageSpec]:
    """Render (and copy) the inputs into bench/pages/ and write the manifest."""
    now = datetime.fromisoformat(NOW)
    sim = "relay.sim renderer, seed_ranknews.json"
    gnu_url = HOST + "/bbs/board.php?bo_table=free"
    gnu_cp949 = _gnuboard_page(now, "cp949")
    pages: list[tuple[PageSpec, bytes]] = [
        (
            PageSpec(
                "rhymix_default",
                "rhymix_default.html",
                "rhymix",
                HOST + "/ranknews",
                "text/html; charset=UTF-8",
                source=f"{sim}, Rhymix default skin",
            ),
            _rhymix_page(now).encode("utf-8"),
        ),
        (
            PageSpec(
                "gnuboard5_basic",
                "gnuboard5_basic.html",
                "gnuboard",
                gnu_url,
                "text/html; charset=UTF-8",
                source=f"{sim}, Gnuboard5 basic skin",
            ),
            _gnuboard_page(now, "utf-8").encode("utf-8"),
        ),
        (
            PageSpec(
                "gnuboard5_basic_cp949",
                "gnuboard5_basic_cp949.html",
                "gnuboard",
                gnu_url,
                "text/html; charset=EUC-KR",
                source=f"{sim}, Gnuboard5 basic skin, encoded as the simulator serves cp949",
                parse=False,
            ),
            # What the simulator's server does for a cp949 board.
            gnu_cp949.encode("cp949", "xmlcharrefreplace"),
        ),
        *_corpus_pages(),
    ]
    PAGES.mkdir(parents=True, exist_ok=True)
    for spec, body in pages:
        (PAGES / spec.file).write_bytes(body)
    specs = [spec for spec, _ in pages]
    MANIFEST.write_text(
        json.dumps([asdict(s) for s in specs], ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    return specs


def load_pages() -> list[PageSpec]:
    if not MANIFEST.is_file():
        raise SystemExit(f"{MANIFEST} is missing: run with --write-pages first")
    known = {f.name for f in fields(PageSpec)}
    return [
        PageSpec(**{k: v for k, v in entry.items() if k in known})
        for entry in json.loads(MANIFEST.read_text(encoding="utf-8"))
    ]


# --- the same extraction with BeautifulSoup -----------------------------------------------------
# A line-for-line port of relay/parse.py's list reading, with the preset's CSS selectors run by
# soupsieve (bs4's .select) instead of lexbor: same regexes, same fallbacks, same date parser.

_CURRENT_MARKS = ("»", "열람중", "현재글", "&raquo;")
_NOTICE_WORDS = ("공지", "notice", "공지사항", "필독")
_TRAILING_COUNT = re.compile(r"\s*[\[(]\s*\+?(\d{1,6})\s*[\])]\s*$")
_DIGITS = re.compile(r"\d[\d,]*")


def bs4_parse_list(
    html: str, *, url: str, selectors: Selectors, now: datetime, tz: tzinfo, features: str
) -> list[Post]:
    soup = BeautifulSoup(html, features)
    base_tag = soup.select_one("base[href]")
    href = str(base_tag.get("href") or "").strip() if base_tag is not None else ""
    base = urljoin(url, href) if href else url
    for node in soup.select(HIDDEN):
        if not node.decomposed:  # a match inside an already removed match
            node.decompose()
    patterns = [re.compile(p) for p in selectors.id_pattern]
    for row_selector in selectors.row:
        rows = (
            _bs4_row(row, base, selectors, patterns, now, tz) for row in soup.select(row_selector)
        )
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
    candidates = [a for sel in selectors.link for a in row.select(sel)] + row.select("a[href]")
    for anchor in candidates:
        href = str(anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:")):
            continue
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
    if selectors.strip:
        title_node = copy.copy(title_node)  # leave the row intact, as parse.py does
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
    notice = any(
        row.css.match(sel) or row.select_one(sel) is not None for sel in selectors.notice
    ) or (number_text.strip().lower() in _NOTICE_WORDS)
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


def _bs4_date(row: Tag, selectors: Selectors, now: datetime, tz: tzinfo) -> datetime | None:
    node = _bs4_first(row, selectors.date)
    cells = [node] if node is not None else list(reversed(row.select("td")))
    for cell in cells:
        for candidate in (str(cell.get("title") or ""), _bs4_text(cell)):
            when = parse_board_date(candidate, now, tz) if candidate else None
            if when is not None:
                return when
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
    """One post per id, first occurrence first (a notice may be listed twice)."""
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


# --- timing -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timing:
    median_us: float
    p95_us: float
    iterations: int


def measure(call: Callable[[], object], iterations: int) -> Timing:
    """Per-call wall time of `call`, after a warm-up of a tenth of the iterations (at least 5)."""
    for _ in range(max(5, iterations // 10)):
        call()
    gc.collect()
    samples: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(iterations):
        start = clock()
        call()
        samples.append(clock() - start)
    samples.sort()
    p95 = samples[max(0, math.ceil(0.95 * len(samples)) - 1)]
    return Timing(statistics.median(samples) / 1000, p95 / 1000, iterations)


def _mismatches(ours: list[Post], theirs: list[Post]) -> list[str]:
    problems = []
    if [p.id for p in ours] != [p.id for p in theirs]:
        problems.append(f"ids: {[p.id for p in ours]} != {[p.id for p in theirs]}")
        return problems
    for a, b in zip(ours, theirs, strict=True):
        for f in fields(Post):
            left, right = getattr(a, f.name), getattr(b, f.name)
            if left != right:
                problems.append(f"post {a.id} {f.name}: {left!r} != {right!r}")
    return problems


@dataclass(frozen=True, slots=True)
class Case:
    """A page ready to parse, and the three ways of parsing it."""

    spec: PageSpec
    size: int  # bytes on the wire
    html: str
    selectors: Selectors
    now: datetime
    tz: tzinfo

    def selectolax(self) -> list[Post]:
        return parse_list(
            self.html, url=self.spec.url, selectors=self.selectors, now=self.now, tz=self.tz
        )

    def bs4(self, features: str) -> list[Post]:
        return bs4_parse_list(
            self.html,
            url=self.spec.url,
            selectors=self.selectors,
            now=self.now,
            tz=self.tz,
            features=features,
        )


def cases(specs: Iterable[PageSpec]) -> list[Case]:
    out = []
    for spec in specs:
        if not spec.parse:
            continue
        body = (PAGES / spec.file).read_bytes()
        html = decode_html(body, spec.content_type).text
        now, tz = datetime.fromisoformat(spec.now), ZoneInfo(spec.tz)
        out.append(Case(spec, len(body), html, PRESETS[spec.preset], now, tz))
    return out


def verify(all_cases: list[Case]) -> list[str]:
    """Mismatch lines between parse_list and both bs4 ports; empty when they agree."""
    problems = []
    for case in all_cases:
        posts = case.selectolax()
        for features in BS4_FEATURES:
            for line in _mismatches(posts, case.bs4(features)):
                problems.append(f"{case.spec.name} (bs4 {features}): {line}")
    return problems


def run(all_cases: list[Case], iterations: int) -> list[dict[str, Any]]:
    """Time every page with each parser."""
    results: list[dict[str, Any]] = []
    for case in all_cases:
        posts = case.selectolax()
        results.append(
            {
                "page": case.spec.name,
                "source": case.spec.source,
                "bytes": case.size,
                "rows": len(posts),
                "notices": sum(p.notice for p in posts),
                "selectolax": asdict(measure(case.selectolax, iterations)),
                "bs4_html_parser": asdict(measure(partial(case.bs4, "html.parser"), iterations)),
                "bs4_lxml": asdict(measure(partial(case.bs4, "lxml"), iterations)),
            }
        )
    return results


def time_decoding(specs: list[PageSpec], iterations: int) -> list[dict[str, Any]]:
    """decode_html on each cp949 input: with the charset in the header, and with none (meta)."""
    out = []
    for spec in specs:
        body = (PAGES / spec.file).read_bytes()
        if decode_html(body, spec.content_type).encoding != "cp949":
            continue
        for label, content_type in (("header", spec.content_type), ("no header", "text/html")):
            decoded = decode_html(body, content_type)
            timing = measure(lambda b=body, c=content_type: decode_html(b, c), iterations * 5)
            out.append(
                {
                    "page": spec.name,
                    "content_type": content_type,
                    "case": label,
                    "source": decoded.source,
                    "bytes": len(body),
                    **asdict(timing),
                }
            )
    return out


def profile(specs: list[PageSpec], iterations: int) -> None:
    """cProfile of parse_list per page: where the time goes (top functions by own time)."""
    for spec in specs:
        if not spec.parse:
            continue
        html = decode_html((PAGES / spec.file).read_bytes(), spec.content_type).text
        now, tz, selectors = (
            datetime.fromisoformat(spec.now),
            ZoneInfo(spec.tz),
            PRESETS[spec.preset],
        )
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(iterations):
            parse_list(html, url=spec.url, selectors=selectors, now=now, tz=tz)
        profiler.disable()
        print(f"\n== {spec.name}: parse_list x {iterations} ==")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(18)


# --- report -------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_table(results: list[dict[str, Any]], decoding: list[dict[str, Any]]) -> None:
    head = (
        f"{'page':<22} {'rows':>4} {'selectolax':>11} {'p95':>8} {'bs4 html.parser':>16} "
        f"{'p95':>8} {'ratio':>6} {'bs4 lxml':>9} {'p95':>8} {'ratio':>6}"
    )
    print("parse_list per page, median and p95 in µs")
    print(head)
    print("-" * len(head))
    for r in results:
        lex, hp, lx = r["selectolax"], r["bs4_html_parser"], r["bs4_lxml"]
        print(
            f"{r['page']:<22} {r['rows']:>4} {lex['median_us']:>11.0f} {lex['p95_us']:>8.0f} "
            f"{hp['median_us']:>16.0f} {hp['p95_us']:>8.0f} "
            f"{hp['median_us'] / lex['median_us']:>5.1f}x "
            f"{lx['median_us']:>9.0f} {lx['p95_us']:>8.0f} {lx['median_us'] / lex['median_us']:>5.1f}x"
        )
    print()
    for r in results:
        lex, hp = r["selectolax"]["median_us"], r["bs4_html_parser"]["median_us"]
        print(
            f"{r['page']:<22} < {TARGET_US / 1000:.0f} ms: {_verdict(lex < TARGET_US)} "
            f"(median {lex / 1000:.2f} ms, p95 {r['selectolax']['p95_us'] / 1000:.2f} ms); "
            f">= {TARGET_RATIO:.0f}x bs4(html.parser): {_verdict(hp / lex >= TARGET_RATIO)} "
            f"({hp / lex:.1f}x)"
        )
    if decoding:
        print("\ndecode_html on a cp949 page, median and p95 in µs")
        for d in decoding:
            print(
                f"{d['page']:<22} {d['bytes']:>7} bytes, {d['case']:<9} (won: {d['source']:<6}) "
                f"{d['median_us']:>7.0f} {d['p95_us']:>7.0f}"
            )


def environment(iterations: int) -> dict[str, Any]:
    import bs4
    import lxml.etree
    import selectolax

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "selectolax": selectolax.__version__,
        "bs4": bs4.__version__,
        "lxml": ".".join(map(str, lxml.etree.LXML_VERSION)),
        "iterations": iterations,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--iterations", type=int, default=200, help="timed calls per page and parser"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--write-pages", action="store_true", help="regenerate bench/pages/ first")
    parser.add_argument("--profile", action="store_true", help="cProfile parse_list, then exit")
    args = parser.parse_args(argv)
    if args.iterations < 1:
        parser.error("--iterations must be at least 1")
    specs = write_pages() if args.write_pages else load_pages()
    if args.profile:
        profile(specs, args.iterations)
        return 0
    env = environment(args.iterations)
    print(
        f"python {env['python']} on {env['machine']}, {env['cpus']} cpus; selectolax "
        f"{env['selectolax']}, bs4 {env['bs4']}, lxml {env['lxml']}; "
        f"{args.iterations} iterations\n"
    )
    all_cases = cases(specs)
    problems = verify(all_cases)
    if problems:
        print("the two extractions disagree:", file=sys.stderr)
        for line in problems:
            print("  " + line, file=sys.stderr)
        return 1
    print(f"verified: {len(all_cases)} pages, selectolax and both bs4 ports give the same posts\n")
    results = run(all_cases, args.iterations)
    decoding = time_decoding(specs, args.iterations)
    print_table(results, decoding)
    if args.json:
        args.json.write_text(
            json.dumps({"environment": env, "pages": results, "decode_html": decoding}, indent=2)
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
