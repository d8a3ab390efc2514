"""relay.service.logs: one line per event on stderr, and the bot token never in it -- not from
httpx,
not from PTB's debug lines, not from a traceback -- even at DEBUG level."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakebot import FakeBot

from relay.adapters.courier import Courier, Pace
from relay.core.errors import DeliveryError
from relay.core.models import OutgoingMessage
from relay.service.logs import REDACTED, Redactor, add_secret, setup_logging

NO_PACE = Pace(per_chat_interval=0, group_max=0, group_period=0, bot_max=0, bot_period=0)
TOKEN = "555000111:AAsecretSECRETsecretSECRETsecret12345"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """setup_logging changes process-wide state: put it back for the other tests."""
    root = logging.getLogger()
    handlers, level, hook = list(root.handlers), root.level, sys.excepthook
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    sys.excepthook = hook
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


def ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if type(h).__name__ == "_StderrHandler"]


async def test_token_never_reaches_stderr_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("DEBUG")
    add_secret(TOKEN)  # registered after setup, as when the token comes from a file later
    log = logging.getLogger("relay.test")
    with FakeBot(TOKEN) as fakebot:
        async with Courier(TOKEN, fakebot.api_url, pace=NO_PACE) as courier:
            await courier.check()
            await courier.send(OutgoingMessage(chat="@relay_test", text="ok"))
            fakebot.drop_after_accept(1)
            for chat in ("@nobody", "@relay_test"):
                try:
                    await courier.send(OutgoingMessage(chat=chat, text="fails"))
                except DeliveryError:
                    log.exception("delivery to %s failed", chat)
        try:
            raise RuntimeError(f"POST {fakebot.api_url}/bot{TOKEN}/sendMessage failed")
        except RuntimeError:
            log.exception("request %s", f"/bot{TOKEN}/getMe")
        log.debug("token is %s", TOKEN, stack_info=True)
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert TOKEN.split(":")[1] not in err
    assert "Traceback (most recent call last)" in err and "Chat not found" in err
    assert f"bot{REDACTED}" in err  # PTB's "Set Bot API URL" debug line was there, redacted
    assert "DEBUG relay.test: token is <redacted>" in err


def test_tokens_that_were_never_registered_are_redacted_by_shape(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging("INFO")
    other = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    logging.getLogger("relay.test").info("GET https://api.telegram.org/bot%s/getMe", other)
    logging.getLogger("relay.test").info("bare %s", other)
    err = capsys.readouterr().err
    assert other not in err and "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in err


def test_one_line_per_event_level_logger_message(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO")
    logging.getLogger("relay.pipeline.cycle").info("board %s: %d new", "news", 3)
    logging.getLogger("relay.pipeline.cycle").debug("not shown")
    assert capsys.readouterr().err == "INFO relay.pipeline.cycle: board news: 3 new\n"


def test_the_filter_cleans_the_record_for_later_handlers() -> None:
    setup_logging("INFO", secrets=["hunter2-secret"])
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logging.getLogger().addHandler(Collect())
    logging.getLogger("relay.test").warning("password %s", "hunter2-secret")
    assert seen == [f"password {REDACTED}"]


def test_setup_twice_keeps_one_handler_and_quiets_httpx() -> None:
    setup_logging("DEBUG")
    setup_logging("INFO")
    assert len(ours()) == 1
    assert logging.getLogger().level == logging.INFO
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        setup_logging("LOUD")


# --- every secret, whatever its length, and URL userinfo (issue 9, finding 11) ---------------


@pytest.mark.parametrize(
    ("secret", "line", "expected"),
    [
        ("1:a", "token 1:a refused", "token <redacted> refused"),
        ("1:a", "GET /bot1:a/getMe", "GET /bot<redacted>/getMe"),
        ("1:a", "token=1:a, again 1:a.", "token=<redacted>, again <redacted>."),
        ("1:a", "1%3Aa in a query", "<redacted> in a query"),
        ("1:a", "at 11:ab and x1:a and 1:ab", "at 11:ab and x1:a and 1:ab"),  # not alone: kept
        ("ab", "ab", "<redacted>"),
        ("ab", "about a tab", "about a tab"),
        ("7:Q_x-", "(7:Q_x-)", "(<redacted>)"),
        ("hunter2-secret", "xhunter2-secretx", "x<redacted>x"),  # long: removed anywhere
    ],
)
def test_a_registered_secret_of_any_length_is_redacted_where_it_stands(
    secret: str, line: str, expected: str
) -> None:
    redact = Redactor()
    redact.add(secret)
    assert redact(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET http://user:pass@example.com/board", "GET http://***@example.com/board"),
        ("https://u:p@ss@host:8443/?x=1", "https://***@host:8443/?x=1"),
        ("socks5://proxy:pw@10.0.0.1:1080", "socks5://***@10.0.0.1:1080"),
        ("URL('HTTP://only-user@host')", "URL('HTTP://***@host')"),
        ("http://host/page?mail=a@b.c", "http://host/page?mail=a@b.c"),  # not userinfo
        ("http://host/x write to admin@example.org", "http://host/x write to admin@example.org"),
        ("mailto:admin@example.org", "mailto:admin@example.org"),
    ],
)
def test_the_userinfo_of_any_url_is_redacted(line: str, expected: str) -> None:
    assert Redactor()(line) == expected


CHILD_LOGGING = textwrap.dedent(
    """
    import logging, sys
    import httpx
    from relay.service.logs import add_secret, setup_logging

    setup_logging("DEBUG")
    add_secret("1:a")
    log = logging.getLogger("relay.pipeline.cycle")
    board = "http://scraper:board-pw@127.0.0.1:9/board"
    log.warning("board news: fetch %s failed", board)
    try:
        httpx.get(board, timeout=2)  # nothing listens on port 9: a real httpx error
    except httpx.HTTPError as e:
        log.warning("board news: %s for %r", e, e.request.url)
        log.exception("board news: poll crashed")
    log.info("kept: 11:ab at 12:30", stack_info=True)
    raise RuntimeError(f"POST https://api.telegram.org/bot1:a/sendMessage via {board}")
    """
)


def test_no_secret_reaches_the_real_log_of_a_process(tmp_path: Path) -> None:
    """The whole path, in a fresh interpreter: messages, exception text, tracebacks, stacks
    and the traceback of the exception that ends the process."""
    script = tmp_path / "child.py"
    script.write_text(CHILD_LOGGING, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=30, check=False
    )
    err = result.stderr
    assert result.returncode == 1
    for secret in ("board-pw", "scraper", "bot1:a"):
        assert secret not in err, err
    assert re.search(r"(?<![\w:%-])1(:|%3A)a(?![\w:%-])", err) is None, err  # the short token
    assert "WARNING relay.pipeline.cycle: board news: fetch http://***@127.0.0.1:9/board" in err
    assert "URL('http://***@127.0.0.1:9/board')" in err
    assert "ERROR relay.pipeline.cycle: board news: poll crashed\nTraceback (most rec" in err
    assert "CRITICAL relay: uncaught RuntimeError, exiting\nTraceback (most recent" in err
    assert "https://api.telegram.org/bot<redacted>/sendMessage via http://***@" in err
    assert "INFO relay.pipeline.cycle: kept: 11:ab at 12:30\nStack (most recent call last)" in err


def test_the_filter_hands_later_handlers_a_redacted_traceback() -> None:
    setup_logging("INFO", secrets=["tb-secret-value"])
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(logging.Formatter().format(record))

    logging.getLogger().addHandler(Collect())
    try:
        raise ValueError("http://me:tb-secret-value@host/")
    except ValueError:
        logging.getLogger("relay.test").exception("failed")
    assert len(seen) == 1
    assert "tb-secret-value" not in seen[0] and "me:" not in seen[0]
    assert "ValueError: http://***@host/" in seen[0]
