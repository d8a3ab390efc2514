"""relay.service.logs: one line per event on stderr, and the bot token never in it -- not from
httpx,
not from PTB's debug lines, not from a traceback -- even at DEBUG level."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fakebot import FakeBot

from relay.adapters.courier import Courier, Pace
from relay.core.errors import DeliveryError
from relay.core.models import OutgoingMessage
from relay.service.logs import REDACTED, add_secret, setup_logging

NO_PACE = Pace(per_chat_interval=0, group_max=0, group_period=0, bot_max=0, bot_period=0)
TOKEN = "555000111:AAsecretSECRETsecretSECRETsecret12345"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """setup_logging changes process-wide state: put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
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
