"""What only the PostgreSQL state has to get right (the rest is tests/test_state_contract.py):
several relays starting on one empty database at once, the password (from the environment,
a file or the URL) never shown, a server that goes away or was never there named in one
line rather than a traceback, a restarted server costing nothing, SQL mistakes left loud, a
board's cached state refreshed from what another instance wrote, the fence that drops a
poll made under a lease that is no longer held, and sessions in UTC with the timeouts chosen
(each server failure classified in words).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from conftest import run_relay, write_config
from pgserver import _free_port, postgres_server

from relay.adapters.postgres import PoolSettings, PostgresState
from relay.adapters.postgres.migrations import MIGRATIONS
from relay.core.config import load_config
from relay.core.coordination import Lease, LeaseLost
from relay.core.errors import ConfigError, StateError
from relay.core.models import Article, Post
from relay.core.state import BoardState, NewPost, PageChanges, PollIntent, Validators
from relay.core.state_url import parse_postgres_url
from relay.sim import BoardSimulator

NOW = datetime(2025, 2, 5, 6, 0, tzinfo=UTC)
SECRET = "Hush-e3b0c442-pw"  # a password no output may ever contain
ROLE = "secretive"


def poll(*ids: int, at: datetime = NOW) -> PollIntent:
    new = tuple(
        NewPost(Post(str(i), f"http://b/{i}", f"t{i}"), True, True, Article("e", "t")) for i in ids
    )
    changes = PageChanges(Validators(body_hash=f"h{ids}"), "1", new, chats=("@c",))
    return PollIntent(at=at, stamp=True, changes=changes, pages=1)


def open_state(url: str, **settings: float) -> PostgresState:
    return PostgresState(parse_postgres_url(url), settings=PoolSettings(**settings))  # type: ignore[arg-type]


@pytest.fixture
def state(pg_url: str) -> Iterator[PostgresState]:
    opened = open_state(pg_url)
    try:
        yield opened
    finally:
        opened.close()


# --- starting ---------------------------------------------------------------------------------


def test_relays_starting_at_once_on_an_empty_database_make_one_schema(pg_url: str) -> None:
    start = threading.Barrier(4)
    opened: list[PostgresState] = []
    errors: list[BaseException] = []

    def one() -> None:
        start.wait()
        try:
            opened.append(open_state(pg_url))
        except BaseException as e:  # the test reports it below
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for each in opened:
        each.close()
    assert errors == [] and len(opened) == 4
    with psycopg.connect(pg_url) as db:
        rows = db.execute("SELECT version FROM relay_schema").fetchall()
        assert rows == [(len(MIGRATIONS),)]


def test_a_newer_schema_is_refused_naming_the_state(pg_url: str) -> None:
    open_state(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute("UPDATE relay_schema SET version = version + 1")
    with pytest.raises(StateError, match="upgrade board-relay") as refused:
        open_state(pg_url)
    assert str(refused.value).startswith(pg_url)


# --- the password -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def password_server(postgres_url: str) -> str:
    """The session's server, with one role that must give its password (SCRAM) and a
    database it owns; every other connection keeps trust. The URL of that database, as the
    role, without the password."""
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{SECRET}'")
        admin.execute(f"CREATE DATABASE {ROLE} OWNER {ROLE} TEMPLATE template0")
        [hba] = admin.execute("SHOW hba_file").fetchone() or [""]
        rules = Path(hba)
        rules.write_text(f"host all {ROLE} 127.0.0.1/32 scram-sha-256\n" + rules.read_text())
        admin.execute("SELECT pg_reload_conf()")
    url = postgres_url.replace("relay@", f"{ROLE}@").rsplit("/", 1)[0] + f"/{ROLE}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the reload is a signal: wait until it took effect
        try:
            psycopg.connect(url).close()
        except psycopg.OperationalError:
            return url
        time.sleep(0.05)
    pytest.fail("the server did not start asking for the password")


def board_config(tmp_path: Path, sim: BoardSimulator, state: str, **relay: object) -> Path:
    board = sim.add_board("news", "rhymix")
    board.add_post("하나", "x", "<p>x</p>")
    entry = {"id": "news", "url": board.list_url, "chat": "@news"}
    return write_config(tmp_path, [entry], telegram={"dry_run": True}, state=state, **relay)


def test_the_password_from_the_environment_is_used_and_never_shown(
    tmp_path: Path, sim: BoardSimulator, password_server: str
) -> None:
    path = board_config(tmp_path, sim, password_server)
    env = {"RELAY_STATE_PASSWORD": SECRET}
    once = run_relay("--log-level", "DEBUG", "once", "-c", str(path), env=env)
    assert once.returncode == 0, once.stderr
    assert "news: ok, 1 new" in once.stdout
    status = run_relay("status", "-c", str(path), env=env)
    assert "news" in status.stdout, status.stderr
    for result in (once, status):
        assert SECRET not in result.stdout + result.stderr
    wrong = run_relay("status", "-c", str(path), env={"RELAY_STATE_PASSWORD": "not-it-9f8"})
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    # What the command line prints goes through the redaction of every URL's userinfo.
    shown = password_server.replace(f"{ROLE}@", "***@")
    assert f"{shown}: cannot open the state: authentication failed" in wrong.stderr
    assert "not-it-9f8" not in wrong.stderr


def test_the_password_from_a_file_loses_its_trailing_newline(
    tmp_path: Path, sim: BoardSimulator, password_server: str
) -> None:
    secret_file = tmp_path / "state-password"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    path = board_config(tmp_path, sim, password_server, state_password_file=str(secret_file))
    once = run_relay("--log-level", "DEBUG", "once", "-c", str(path))
    assert once.returncode == 0, once.stderr
    retry = run_relay("retry", "-c", str(path))
    assert retry.returncode == 0 and "0 failed deliveries" in retry.stdout, retry.stderr
    assert SECRET not in once.stdout + once.stderr + retry.stdout + retry.stderr
    secret_file.unlink()
    missing = run_relay("status", "-c", str(path))
    assert missing.returncode == 2
    assert f"[relay] state_password_file {secret_file}: No such file" in missing.stderr


def test_a_password_in_the_url_stays_out_of_the_location_and_the_config(
    tmp_path: Path, password_server: str
) -> None:
    with_secret = password_server.replace(f"{ROLE}@", f"{ROLE}:{SECRET}@")
    path = write_config(tmp_path, [{"id": "b", "url": "http://b/"}], state=with_secret)
    config = load_config(path)
    assert SECRET not in repr(config) and str(config.state) == password_server
    state = PostgresState(parse_postgres_url(with_secret), password=None)
    try:
        assert state.location == password_server
    finally:
        state.close()


def test_a_password_file_for_a_sqlite_state_is_a_config_error(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, [{"id": "b", "url": "http://b/"}], state_password_file="pw", state="s.db"
    )
    result = run_relay("status", "-c", str(path))
    assert result.returncode == 2 and "state_password_file is only for a PostgreSQL" in (
        result.stderr
    )


# --- a server that is not there ---------------------------------------------------------------


def test_a_server_that_is_not_there_is_one_line_naming_it(tmp_path: Path) -> None:
    url = f"postgresql://relay@127.0.0.1:{_free_port()}/relay"
    path = write_config(tmp_path, [{"id": "b", "url": "http://b/"}], state=url)
    result = run_relay("status", "-c", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    shown = url.replace("relay@", "***@")  # the CLI redacts every URL's userinfo
    assert f"relay: state error: {shown}: cannot open the state: connection refused" in (
        result.stderr
    )


@pytest.mark.slow
def test_a_server_that_goes_away_fails_calls_with_a_state_error_naming_it(
    tmp_path: Path,
) -> None:
    with postgres_server(tmp_path / "pg") as url:
        state = open_state(url, wait_timeout=1.0)
        state.apply_poll("b", poll(1))
    try:  # the server is stopped (immediate) and its folder removed
        with pytest.raises(StateError) as caught:
            state.known("b", ["1"])
        assert str(caught.value).startswith(f"{url}: cannot read the state: ")
        assert caught.value.reason == "state" and "connection refused" in str(caught.value)
        with pytest.raises(StateError, match=f"^{url}: cannot write the state"):
            state.apply_poll("b", poll(2))
        assert state.board_state("b").failures == 0  # memory kept what was last committed
    finally:
        state.close()


def test_connections_the_server_dropped_are_replaced_without_a_failure(
    state: PostgresState, pg_url: str
) -> None:
    state.apply_poll("b", poll(1))
    with psycopg.connect(pg_url, autocommit=True) as admin:
        dropped = admin.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
            "WHERE application_name LIKE 'board-relay@%%' AND pid <> pg_backend_pid()"
        ).fetchone()
    assert dropped and dropped[0] >= 1
    assert sorted(state.known("b", ["1", "2"])) == ["1"]
    state.apply_poll("b", poll(2, at=NOW + timedelta(minutes=1)))


def test_a_mistake_in_sql_is_a_bug_not_a_state_error(state: PostgresState) -> None:
    with pytest.raises(psycopg.errors.NotNullViolation):
        state.database.write("INSERT INTO posts (board_id, id) VALUES ('b', '1')")
    with pytest.raises(psycopg.errors.UndefinedColumn):
        state.database.query("SELECT nothing FROM posts")


# --- several instances ------------------------------------------------------------------------


def test_a_board_polled_by_another_instance_is_refreshed_on_request(
    state: PostgresState, pg_url: str
) -> None:
    other = open_state(pg_url)
    try:
        other.apply_poll("b", poll(1))
        assert state.board_state("b") == BoardState("b")  # memory: not yet re-read
        state.refresh_boards(["b", "never"])
        assert state.board_state("b") == other.board_state("b")
        assert state.board_state("b").last_success == NOW
        assert state.board_state("never") == BoardState("never")
    finally:
        other.close()


def lease_rows(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(
            "INSERT INTO leases (board_id, owner, token, expires, taken) VALUES "
            "('b', 'me', 3, now() + interval '1 minute', now()), "
            "('gone', 'me', 3, now() - interval '1 second', now() - interval '1 minute')"
        )


def lease(board_id: str = "b", owner: str = "me", token: int = 3) -> Lease:
    return Lease(board_id, owner, token, NOW + timedelta(minutes=1), NOW)


@pytest.mark.parametrize(
    "stale",
    [lease(token=2), lease(owner="other"), lease("gone"), lease("unleased")],
    ids=["older-token", "other-owner", "expired", "no-lease"],
)
def test_a_poll_under_a_lease_no_longer_held_records_nothing(
    state: PostgresState, pg_url: str, stale: Lease
) -> None:
    lease_rows(pg_url)
    with pytest.raises(LeaseLost) as lost:
        state.apply_poll(stale.board_id, poll(1), fence=stale)
    assert lost.value.reason == "lease" and stale.board_id in str(lost.value)
    assert state.known(stale.board_id, ["1"]) == {}
    assert state.pending_deliveries() == []
    assert state.board_state(stale.board_id) == BoardState(stale.board_id)
    assert state.board_states([stale.board_id]) == [BoardState(stale.board_id)]


def test_a_poll_under_the_current_lease_is_recorded(state: PostgresState, pg_url: str) -> None:
    lease_rows(pg_url)
    recorded = state.apply_poll("b", poll(1), fence=lease())
    assert [p.id for p in recorded] == ["1"]
    unchanged = PollIntent(at=NOW + timedelta(minutes=1), stamp=True)
    assert state.apply_poll("b", unchanged, fence=lease()) == ()
    assert state.board_state("b").last_success == NOW + timedelta(minutes=1)


@pytest.mark.parametrize(
    "stale",
    [lease(token=2), lease(owner="other"), lease("gone")],
    ids=["older", "other", "expired"],
)
def test_an_unchanged_poll_under_a_lease_no_longer_held_stamps_nothing(
    state: PostgresState, pg_url: str, stale: Lease
) -> None:
    # An unchanged poll is one fenced statement, not the fenced transaction of a changed one.
    lease_rows(pg_url)
    state.apply_poll(stale.board_id, poll(1))
    before = state.board_state(stale.board_id)
    unchanged = PollIntent(at=NOW + timedelta(minutes=1), stamp=True)
    with pytest.raises(LeaseLost, match=stale.board_id):
        state.apply_poll(stale.board_id, unchanged, fence=stale)
    assert state.board_state(stale.board_id) == before
    state.refresh_boards([stale.board_id])
    assert state.board_state(stale.board_id).last_success == NOW  # in the database too


def test_an_unchanged_poll_of_a_board_without_a_row_makes_it(
    state: PostgresState, pg_url: str
) -> None:
    lease_rows(pg_url)
    state.apply_poll("b", PollIntent(at=NOW, stamp=True), fence=lease())
    other = open_state(pg_url)
    try:
        assert other.board_state("b").last_success == NOW == state.board_state("b").last_success
    finally:
        other.close()


def test_an_unchanged_poll_waiting_on_a_lease_taken_over_stamps_nothing(
    state: PostgresState, pg_url: str
) -> None:
    lease_rows(pg_url)
    state.apply_poll("b", poll(1), fence=lease())
    caught: list[BaseException] = []

    def stamp() -> None:
        try:
            state.apply_poll("b", PollIntent(NOW + timedelta(minutes=1), True), fence=lease())
        except BaseException as e:
            caught.append(e)

    with psycopg.connect(pg_url, autocommit=True) as other:
        with other.transaction():  # another instance taking the lease over, not yet committed
            other.execute("UPDATE leases SET owner = 'other', token = 4 WHERE board_id = 'b'")
            waiting = threading.Thread(target=stamp)
            waiting.start()
            time.sleep(0.5)
            assert waiting.is_alive()  # the stamp waits for the lease row
        waiting.join(10)
    assert [type(e) for e in caught] == [LeaseLost]
    state.refresh_boards(["b"])
    assert state.board_state("b").last_success == NOW


def test_a_nul_from_a_page_is_stored_as_a_replacement_character(state: PostgresState) -> None:
    nul = NewPost(Post("1", "http://b/1", "제목\x00끝", author="a\x00"), True, True)
    state.apply_poll("b", PollIntent(NOW, True, PageChanges(Validators(), "1", (nul,))))
    state.set_article("b", "1", Article("요약\x00", "본문\x00", body_html="<p>\x00</p>"))
    stored = state.posts("b", ["1"])["1"]
    assert (stored.title, stored.author, stored.excerpt) == (
        "제목\ufffd끝",
        "a\ufffd",
        "요약\ufffd",
    )
    assert state.known("b", ["1"])["1"].title == "제목\ufffd끝"


# --- sessions and their settings --------------------------------------------------------------


def test_sessions_run_in_utc_with_the_timeouts_chosen(state: PostgresState) -> None:
    [row] = state.database.query(
        "SELECT current_setting('TimeZone') AS zone, current_setting('statement_timeout') AS st,"
        " current_setting('lock_timeout') AS lt, current_setting('application_name') AS app"
    )
    assert (row["zone"], row["st"], row["lt"]) == ("UTC", "1min", "30s")
    assert row["app"].startswith("board-relay@")
    state.record_failure("b", NOW.astimezone(timezone(timedelta(hours=9))), "network", "reset")
    stored = state.board_state("b").last_poll
    assert stored == NOW and stored is not None and stored.utcoffset() == timedelta(0)


def test_a_statement_that_runs_too_long_is_a_state_error(pg_url: str) -> None:
    quick = open_state(pg_url, statement_timeout=0.2)
    try:
        with pytest.raises(StateError, match="a statement timed out \\(statement_timeout\\)"):
            quick.database.query("SELECT pg_sleep(5)")
    finally:
        quick.close()


def test_a_transaction_left_idle_gives_its_row_locks_back(pg_url: str) -> None:
    """A paused instance (SIGSTOP mid-transaction) must not keep a board's row locked: the
    server ends a session idle in a transaction, and another instance can write the row."""
    paused = open_state(pg_url, idle_in_transaction_timeout=0.5)
    other = open_state(pg_url, lock_timeout=5.0)
    try:
        other.record_failure("b", NOW, "network", "reset")  # the row exists
        failures = None
        with pytest.raises(StateError):
            with paused.database.transaction() as conn:
                conn.execute("SELECT 1 FROM boards WHERE id = 'b' FOR UPDATE")
                time.sleep(1.5)  # "paused" with the row locked: the server ends the session
                # Meanwhile the other instance writes the row (without the timeout it would
                # wait for the lock, and fail after its lock_timeout).
                failures = other.record_failure("b", NOW, "network", "reset again")
                conn.execute("SELECT 1")  # the paused one resumes: its session is gone
        assert failures == 2
    finally:
        paused.close()
        other.close()


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (psycopg.errors.SerializationFailure("could not serialize access"), "serialization"),
        (psycopg.errors.DeadlockDetected("deadlock detected"), "serialization"),
        (psycopg.errors.DiskFull("could not extend file"), "out of room"),
        (psycopg.errors.InvalidPassword("password authentication failed"), "authentication"),
        (psycopg.errors.AdminShutdown("terminating connection"), "went away"),
        (psycopg.OperationalError("connection failed: Connection refused"), "refused"),
        (psycopg.OperationalError("connection failed: timeout expired"), "in time"),
    ],
)
def test_each_server_failure_says_what_happened(error: psycopg.Error, kind: str) -> None:
    from relay.adapters.postgres.db import describe

    said = describe(error)
    assert kind in said.split(":")[0] and str(error) in said


def test_a_url_libpq_refuses_is_a_config_error_naming_the_key() -> None:
    """An unknown URL parameter is the config's fault (exit 2), not a traceback; no password."""
    with pytest.raises(ConfigError, match=r"\[relay\] state: .*nosuchparam") as caught:
        PostgresState(
            parse_postgres_url(f"postgresql://relay:{SECRET}@127.0.0.1:1/r?nosuchparam=1")
        )
    assert SECRET not in str(caught.value)
