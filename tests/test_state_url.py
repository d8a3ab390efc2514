"""`[relay] state` as a path or a PostgreSQL URL: the URL shown everywhere has no password,
the password survives its URL encoding, and a malformed URL is a config error naming the key
(without showing the password)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_config

from relay.core.errors import ConfigError
from relay.core.state_url import PostgresUrl, parse_postgres_url, parse_state_location


@pytest.mark.parametrize(
    ("text", "shown", "password"),
    [
        ("postgresql://relay:s3cret@db:5432/relay", "postgresql://relay@db:5432/relay", "s3cret"),
        (
            "postgres://relay@db/relay?sslmode=require",
            "postgres://relay@db/relay?sslmode=require",
            None,
        ),
        ("postgresql://u:p%40ss%3Aw@[::1]:5433/x", "postgresql://u@[::1]:5433/x", "p@ss:w"),
        ("postgresql://u:@db/x", "postgresql://u@db/x", ""),
        ("postgresql:///x?host=/run/postgresql", "postgresql:///x?host=/run/postgresql", None),
    ],
)
def test_a_state_url_is_shown_without_its_password(
    text: str, shown: str, password: str | None
) -> None:
    url = parse_postgres_url(text)
    assert (url.url, url.password, str(url)) == (shown, password, shown)
    assert password is None or f"'{password}'" not in repr(url)


def test_anything_but_a_postgres_url_is_a_path_against_the_config_folder() -> None:
    folder = Path("/etc/relay")
    assert parse_state_location("state.db", folder) == Path("/etc/relay/state.db")
    assert parse_state_location("postgresql://h/x", folder) == PostgresUrl("postgresql://h/x")
    assert parse_state_location("/var/lib/x.db", folder) == Path("/var/lib/x.db")


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("postgresql://u:hidden-pw@", "no server (host)"),
        ("postgresql://u:hidden-pw@db/x y", "a state URL must not contain whitespace"),
    ],
)
def test_a_malformed_state_url_is_a_config_error_naming_the_key(
    tmp_path: Path, state: str, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        make_config(tmp_path, [{"id": "b", "url": "http://b/"}], state=state)
    assert "[relay]: state: " + message in str(refused.value)
    assert "hidden-pw" not in str(refused.value)
