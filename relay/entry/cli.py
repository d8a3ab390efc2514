"""Entry points: `relay check | preview | once | status | retry | opml | state | run | demo`.

The commands parse their arguments, load the config and get every part they use from the
composition root (`relay.entry.wiring`). Exit codes: 0 all well, 1 a board or a delivery
failed (or the service could not start), 2 a config (usage) error.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from relay import __version__
from relay.adapters.fetch import Fetcher, Page
from relay.core.clock import Clock
from relay.core.config import Board, Config, default_config_path, load_config
from relay.core.errors import (
    ConfigError,
    DeliveryError,
    FetchError,
    LayoutError,
    StartError,
    StateError,
)
from relay.entry.wiring import (
    assemble,
    coordination_of,
    make_fetcher,
    open_sender,
    open_state,
    open_state_at,
)
from relay.service.logs import redact, setup_logging

log = logging.getLogger("relay")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def _config(args: argparse.Namespace) -> Config:
    config = load_config(Path(args.config) if args.config else default_config_path())
    for warning in config.warnings:
        log.warning("%s", warning)
    return config


# --- check ---------------------------------------------------------------------------------


async def cmd_check(args: argparse.Namespace) -> int:
    from relay.core.engines import layout_name
    from relay.core.report import posts_table
    from relay.pipeline.read import parse_page_read

    config = _config(args)
    clock = Clock()
    failed = 0
    async with make_fetcher(config) as fetcher:
        for board in config.boards:
            print(f"== {board.id}: {board.title} ({board.engine}) {board.url}")
            try:
                page = await fetcher.get(board.url)
                read = parse_page_read(page.body, page.content_type, page.url, board, clock.wall())
            except (FetchError, LayoutError) as e:
                failed += 1
                print(f"FAILED ({e.reason}): {e}\n")
                continue
            posts = list(read.posts)
            notices = sum(p.notice for p in posts)
            print(posts_table(board.id, posts, board.timezone))
            print(f"{len(posts)} rows ({notices} notices)")
            print(f"layout: {layout_name(read.row_selector)}")
            print(await source_line(board, fetcher, page) + "\n")
    if config.sends and not (config.dry_run or args.no_telegram):
        try:
            async with open_sender(config, dry_run=False):
                print("telegram: token accepted (getMe)")
        except (ConfigError, DeliveryError) as e:
            failed += 1
            print(f"telegram: FAILED: {e}")
    return EXIT_FAILED if failed else EXIT_OK


async def source_line(board: Board, fetcher: Fetcher, page: Page) -> str:
    """Which source the service will read this board from, and why."""
    from relay.core.boardfeed import BoardFeedError
    from relay.pipeline.feedread import find_feed

    if board.source == "list":
        return 'source: list (source = "list")'
    try:
        url, _, entries = await find_feed(board, fetcher, page, None)
    except (BoardFeedError, FetchError) as e:
        why = "no usable feed" if board.source == "auto" else "its feed fails"
        return f"source: list ({why}: {e})"
    return f"source: feed {url} ({len(entries)} entries; notices from the list page)"


# --- preview -------------------------------------------------------------------------------


async def cmd_preview(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from relay import DEFAULT_USER_AGENT
    from relay.core.decoding import decode_html
    from relay.core.engines import PRESETS, SELECTOR_KEYS
    from relay.core.parse import ListPage, check_selectors
    from relay.core.preview import preview_page

    overrides: dict[str, str | tuple[str, ...]] = {}
    for item in args.selector or []:
        key, sep, value = item.partition("=")
        if not sep or key not in SELECTOR_KEYS:
            raise ConfigError(
                f'--selector "{item}": use KEY=CSS with KEY one of {", ".join(SELECTOR_KEYS)}'
            )
        overrides[key] = value
    selectors = PRESETS[args.engine].merged(overrides)
    try:
        check_selectors(selectors)
    except ValueError as e:
        raise ConfigError(f"--selector: {e}") from None
    async with Fetcher(user_agent=DEFAULT_USER_AGENT, host_delay=0) as fetcher:
        try:
            page = await fetcher.get(args.url)
        except FetchError as e:
            print(f"FAILED ({e.reason}): {e}")
            return EXIT_FAILED
    decoded = decode_html(page.body, page.content_type)
    print(
        f"fetched {len(page.body):,} bytes, decoded as {decoded.encoding} (from {decoded.source})"
        + (f"; the page declared {decoded.overruled}" if decoded.overruled else "")
    )
    if decoded.replaced or decoded.rescued:
        print(
            f"  {decoded.replaced} bytes could not be decoded (shown as \ufffd), "
            f"{decoded.rescued} bytes read as {'cp949' if decoded.encoding == 'utf-8' else 'utf-8'}"
        )
    tz = ZoneInfo(args.timezone)
    for line in preview_page(ListPage(decoded.text, page.url, Clock().wall(), tz), selectors):
        print(line)
    return EXIT_OK


# --- once, status, retry -------------------------------------------------------------------


async def cmd_once(args: argparse.Namespace) -> int:
    from relay.pipeline.deliver import Deliverer
    from relay.pipeline.poll import poll_board, poll_boards

    config = _config(args)
    boards = [config.board(args.board)] if args.board else list(config.boards)
    dry_run = args.dry_run or config.dry_run
    async with assemble(config, dry_run=dry_run, strict_telegram=True) as parts:
        poll = functools.partial(
            poll_board,
            fetcher=parts.fetcher,
            state=parts.state,
            now=parts.clock.wall,
            sources=parts.sources,
            written=parts.feeds_written,
        )
        outcomes = await poll_boards(boards, poll, concurrency=config.concurrency)
        for outcome in outcomes:
            if outcome.ok:
                print(
                    f"{outcome.board_id}: ok, {len(outcome.new)} new, {outcome.announced} to "
                    f"announce, {outcome.pages} pages"
                    + (" (unchanged)" if outcome.unchanged else "")
                )
            else:
                print(f"{outcome.board_id}: FAILED ({outcome.reason}): {outcome.error}")
        failed = any(not o.ok for o in outcomes)
        if config.sends or dry_run:
            deliverer = Deliverer(
                config,
                parts.state,
                parts.sender,
                parts.clock.wall,
                dry_run=parts.dry_run,
                rng=parts.rng,
                monotonic=parts.clock.monotonic,
                claims=parts.claims,
            )
            loop = asyncio.get_running_loop()
            report = await deliverer.drain(deadline=loop.time() + config.drain_timeout)
            if not parts.dry_run:
                print(
                    f"telegram: {report.sent} sent, {report.failed} failed, "
                    f"{report.deferred} pending"
                    + (f", {report.edited} edited" if report.edited else "")
                )
            else:
                print(f"telegram (dry run): nothing sent or edited, {report.edited} edits shown")
            failed = failed or report.failed > 0
    return EXIT_FAILED if failed else EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from relay.core.instances import instances_report
    from relay.core.status import board_report, queue_report, route_report

    config = _config(args)
    if isinstance(config.state, Path) and not config.state.exists():
        print(f"no state yet at {config.state}: run `relay once` or `relay run` first")
        return EXIT_OK
    clock = Clock()
    with open_state(config, lock=False) as state:
        states = state.board_states(b.id for b in config.boards)
        now = clock.wall()
        report, healthy = board_report(config, states, now)
        queue = queue_report(state.pending_deliveries(limit=1_000_000), config, now)
        routes = route_report(config, state.chat_counts())
        coordination = coordination_of(state, clock)
        instances = coordination.instances(config.lease) if coordination.shared else []
    print(report)
    for part in (routes, queue, instances_report(instances)):
        if part:
            print("\n" + part)
    return EXIT_OK if healthy else EXIT_FAILED


def cmd_retry(args: argparse.Namespace) -> int:
    config = _config(args)
    board = config.board(args.board).id if args.board else None
    with open_state(config, lock=False) as state:
        count = state.requeue_failed(board)
    print(f"{count} failed deliveries put back in the queue" + (f" for {board}" if board else ""))
    return EXIT_OK


def cmd_opml(args: argparse.Namespace) -> int:
    """Print every board's feed as OPML, for a reader to subscribe to all of them at once."""
    from relay.pipeline.feed import opml_document

    config = _config(args)
    base = args.base_url or (f"http://{config.listen}" if config.listen else "")
    if not base and not all(b.feed_url for b in config.boards):
        raise ConfigError(
            f"{config.path}: relay opml needs --base-url (where feeds/ is served), "
            "[http] listen, or a feed_url on every board"
        )
    sys.stdout.buffer.write(opml_document(config.boards, base, Clock().wall()))
    return EXIT_OK


# --- state copy ----------------------------------------------------------------------------


def cmd_state(args: argparse.Namespace) -> int:
    """`relay state copy FROM TO [--replace]`: every row of one state into another."""
    from relay.adapters.copy import copy_state
    from relay.core.config import state_password
    from relay.core.state_url import PostgresUrl, StateLocation, parse_state_location

    def location(text: str, which: str) -> StateLocation:
        try:
            return parse_state_location(text, Path.cwd())
        except ValueError as e:  # the message never shows a password
            raise ConfigError(f"relay state copy: {which}: {e}") from None

    source, target = location(args.source, "FROM"), location(args.target, "TO")
    if str(source) == str(target):
        raise ConfigError(f"relay state copy: FROM and TO are the same state ({source})")
    if isinstance(source, Path) and not source.is_file():
        raise StateError(f"{source}: no state file there to copy from")
    passwords = [
        state_password(w) if isinstance(w, PostgresUrl) else None for w in (source, target)
    ]
    with (
        open_state_at(source, password=passwords[0]) as old,
        open_state_at(target, password=passwords[1]) as new,
    ):
        counts = copy_state(old, new, replace=args.replace)
        print(
            f"copied {old.location} to {new.location}: "
            + ", ".join(f"{count} {name}" for name, count in counts.items())
        )
    return EXIT_OK


# --- run, demo -----------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from relay.entry.wiring import run_service

    config_path = Path(args.config) if args.config else default_config_path()
    return asyncio.run(run_service(config_path, dry_run=args.dry_run))


def cmd_demo(args: argparse.Namespace) -> int:
    from relay.entry.demo import run_demo

    return asyncio.run(
        run_demo(Path(args.dir), port=args.port, duration=args.duration, add_every=args.add_every)
    )


# --- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relay", description="Follow web boards with no feed: Atom files and Telegram."
    )
    parser.add_argument("--version", action="version", version=f"board-relay {__version__}")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "-c", "--config", help="config file (default: $RELAY_CONFIG, then ./config.toml)"
        )
        return sub

    check = with_config("check", "validate the config and show page 1 of every board")
    check.add_argument("--no-telegram", action="store_true", help="skip the getMe token check")
    once = with_config("once", "poll every board once, write feeds, send, exit (for cron)")
    once.add_argument("--board", help="only this board id")
    once.add_argument("--dry-run", action="store_true", help="print messages instead of sending")
    with_config("status", "per board: last poll, last success, failures, posts, pending")
    retry = with_config("retry", "put failed deliveries back in the queue")
    retry.add_argument("--board", help="only this board id")
    opml = with_config("opml", "print every board's feed as OPML (subscribe to all at once)")
    opml.add_argument(
        "--base-url", help="public root the feeds are served under (default: [http] listen)"
    )
    state = commands.add_parser("state", help="work on a state as a whole (copy)")
    state_commands = state.add_subparsers(dest="state_command", required=True, metavar="COMMAND")
    copy_help = (
        "copy every board, post and delivery from one state to another: a SQLite file "
        "(a path) or PostgreSQL (a postgresql:// URL; password in $RELAY_STATE_PASSWORD "
        "or the URL). Stop the relays on both first."
    )
    copy = state_commands.add_parser("copy", help=copy_help, description=copy_help)
    copy.add_argument("source", metavar="FROM", help="the state to copy (path or URL)")
    copy.add_argument("target", metavar="TO", help="where to copy it: must hold no state")
    copy.add_argument(
        "--replace", action="store_true", help="empty TO first when it holds a state already"
    )
    run = with_config("run", "run the service: poll on a schedule, send, serve (systemd)")
    run.add_argument("--dry-run", action="store_true", help="print messages instead of sending")

    from relay.core.engines import PRESETS, SELECTOR_KEYS
    from relay.core.preview import PREVIEW_DESCRIPTION, selector_help

    preview = commands.add_parser(
        "preview",
        help="show what each selector finds on one page (and find the rows of a new layout)",
        description=PREVIEW_DESCRIPTION,
        epilog=selector_help(SELECTOR_KEYS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    preview.add_argument("url", help="a list page (or an article page) of the board")
    preview.add_argument(
        "--engine",
        default="rhymix",
        choices=list(PRESETS),
        help="the preset to start from (default rhymix; custom: no preset)",
    )
    preview.add_argument(
        "--selector",
        action="append",
        metavar="KEY=CSS",
        help="override one selector key (repeatable; keys below)",
    )
    preview.add_argument(
        "--timezone", default="Asia/Seoul", help="the board's zone for dates (default Asia/Seoul)"
    )

    demo = commands.add_parser("demo", help="run everything against the bundled example board")
    demo.add_argument(
        "--dir",
        default="demo-data",
        help="where the demo writes config, state and feeds (default ./demo-data)",
    )
    demo.add_argument(
        "--port", type=int, default=8080, help="port of the feed/health server (0: any free port)"
    )
    demo.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    demo.add_argument(
        "--add-every",
        type=float,
        default=5.0,
        help="the example board gets a new post this often (seconds)",
    )
    return parser


_ASYNC_COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "check": cmd_check,
    "preview": cmd_preview,
    "once": cmd_once,
}
_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "status": cmd_status,
    "retry": cmd_retry,
    "opml": cmd_opml,
    "state": cmd_state,
    "run": cmd_run,
    "demo": cmd_demo,
}


# What an error that ends a command is called on stderr, and the exit code it gives.
_FAILURE_LABELS: dict[type[Exception], tuple[str, int]] = {
    ConfigError: ("config error", EXIT_CONFIG),
    StateError: ("state error", EXIT_FAILED),
    StartError: ("cannot start", EXIT_FAILED),
    DeliveryError: ("telegram", EXIT_FAILED),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        if args.command in _ASYNC_COMMANDS:
            return asyncio.run(_ASYNC_COMMANDS[args.command](args))
        return _COMMANDS[args.command](args)
    except (ConfigError, StateError, StartError, DeliveryError) as e:
        label, code = next(v for k, v in _FAILURE_LABELS.items() if isinstance(e, k))
        print(redact(f"relay: {label}: {e}"), file=sys.stderr)
        return code
    except KeyboardInterrupt:
        return 130
