"""Where the state lives: a SQLite file (a path) or a PostgreSQL server (a URL).

Pure string work (urllib.parse only): the config validates `[relay] state` with it, and
`relay state copy` reads its FROM and TO with it. A `postgresql://` (or `postgres://`) URL
is split into the URL without its password — what messages, logs and `relay status` show —
and the password, which is kept out of `repr` and `str`; anything else is a path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True, slots=True)
class PostgresUrl:
    """A PostgreSQL state. `url` never holds a password (it names the state in messages);
    `password` is the one the URL carried, if any (the env var and the file come later)."""

    url: str
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return self.url


StateLocation = Path | PostgresUrl


def is_state_url(text: str) -> bool:
    return bool(re.match(rf"(?i)({'|'.join(SCHEMES)})://", text.strip()))


def parse_postgres_url(text: str) -> PostgresUrl:
    """Split a `postgresql://user:password@host:port/db?params` URL. Raises ValueError
    (whose message never shows the password) when it is not one."""
    if re.search(r"\s", text):
        raise ValueError("a state URL must not contain whitespace")
    parts = urlsplit(text)
    if parts.scheme.lower() not in SCHEMES:
        raise ValueError(f"a state URL starts with {' or '.join(s + '://' for s in SCHEMES)}")
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user, colon, secret = userinfo.partition(":")
    if not (hostport or "host=" in parts.query):
        raise ValueError("no server (host) in the state URL")
    netloc = f"{user}@{hostport}" if at and user else hostport
    # Not urlunsplit: it drops the "//" of a URL with no host (a socket folder in `?host=`).
    plain = f"{parts.scheme}://{netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    return PostgresUrl(plain, unquote(secret) if colon else None)


def parse_state_location(text: str, folder: Path) -> StateLocation:
    """A state URL, or a path made absolute against `folder` (pure: not looked up)."""
    if is_state_url(text):
        return parse_postgres_url(text.strip())
    return Path(os.path.normpath(folder / text))
