"""A throwaway PostgreSQL server for the tests: initdb and pg_ctl in a temp folder, on loopback.

The machine's PostgreSQL server binaries are used (Debian's postgresql package, installed by
`need_postgres` when missing). The server refuses to run as root, so as root it runs as the
`postgres` user the package creates. Trust authentication on 127.0.0.1 only; the whole folder
is removed afterwards.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest


def need_postgres() -> Path:
    """The folder of initdb and pg_ctl, installing the server package when it is missing."""
    from conftest import need_program

    def find() -> Path | None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        return found[-1].parent if found else None

    folder = find()
    if folder is None:
        need_program("pg_ctlcluster", "postgresql")
        folder = find()
    if folder is None:
        pytest.fail("PostgreSQL's server binaries are needed (Debian package postgresql)")
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_server(folder: Path, settings: Mapping[str, str] | None = None) -> Iterator[str]:
    """Start a server with its data in `folder`; yield a connection URL; stop and clean up.
    The tests' server does not fsync (speed, nothing outlives the test); `settings` override
    that and add others (the benchmarks: `fsync=on`, pg_stat_statements).

    As root the server runs as `postgres`, which must reach its folder: then the folder is a
    fresh one directly under /tmp (pytest's own temp root is private to root, and every
    pytest run that starts — another worker, another checkout — makes it private again)."""
    bin_dir = need_postgres()
    user: str | None = None  # the account the server runs as (None: this one)
    if os.geteuid() == 0:
        user = "postgres"
        account = pwd.getpwnam(user)
        folder = Path(tempfile.mkdtemp(prefix="board-relay-pg-", dir="/tmp"))
        os.chown(folder, account.pw_uid, account.pw_gid)
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir(parents=True, exist_ok=True)
    if user is not None:
        os.chown(sockets, account.pw_uid, account.pw_gid)

    def run(*args: str) -> None:
        # user, group and no supplementary groups: root's group would keep its (lack of)
        # rights on the temp folders, which the group bits decide before the other bits.
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            user=user,
            group=user,
            extra_groups=[] if user else None,
            timeout=120,
            cwd=folder,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr or done.stdout}")

    run(
        str(bin_dir / "initdb"),
        "-D",
        str(data),
        "-U",
        "relay",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C",
    )
    port = _free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    ) + "".join(f" -c {key}={value}" for key, value in (settings or {}).items())
    log = folder / "server.log"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
    try:
        yield f"postgresql://relay@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


_databases = itertools.count(1)


def fresh_database(server_url: str) -> str:
    """A new empty database on the server (from template0: nothing of another test's), and
    its URL."""
    import psycopg

    name = f"t{os.getpid()}_{next(_databases)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    return server_url.rsplit("/", 1)[0] + "/" + name


def fresh_schema(server_url: str) -> str:
    """A new empty schema in the server's database, and a URL whose sessions work in it
    (`search_path` in the URL's `options`): a test's own state in milliseconds, where a
    database of its own takes a few hundred."""
    import psycopg

    name = f"t{os.getpid()}_{next(_databases)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{name}"')
    return f"{server_url}?options=-csearch_path%3D{name}"
