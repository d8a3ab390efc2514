"""What a delivery claim and a pace booking cost on a PostgreSQL state.

The delivery worker of a shared state claims once per pass (once per message sent) and
books the chat's pace before each request, so these two round trips are added to every
message. This times `PostgresClaims.claim()` with queues of 100 to 5,000 pending deliveries
(the instance holding all of them: the costliest case, every row read back) and
`book()` + `answered()`, on a throwaway server (tests/pgserver.py), median of `--repeat`.

    .venv/bin/python bench/claims.py
    .venv/bin/python bench/claims.py --repeat 50 --json /tmp/claims.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from pgserver import fresh_schema, postgres_server  # noqa: E402

from relay.adapters.postgres import PostgresState  # noqa: E402
from relay.adapters.postgres.claims import PostgresClaims  # noqa: E402
from relay.core.coordination import InstanceId  # noqa: E402
from relay.core.state_url import parse_postgres_url  # noqa: E402

QUEUES = ((100, 10), (1000, 50), (5000, 200))  # (pending deliveries, chats)


def _queue(url: str, pending: int, chats: int) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO boards (id) VALUES ('b')")
        conn.execute(
            "INSERT INTO posts (board_id, id, sort_key, url, title, first_seen, updated) "
            "SELECT 'b', g::text, g, 'http://x/', 't', now(), now() "
            "FROM generate_series(1, %s) g",
            (pending,),
        )
        conn.execute(
            "INSERT INTO deliveries (board_id, post_id, route, chat, created) "
            "SELECT 'b', g::text, '@c' || (g %% %s), '@c' || (g %% %s), now() "
            "FROM generate_series(1, %s) g",
            (chats, chats, pending),
        )
        conn.execute("ANALYZE")


def _median_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    with postgres_server(Path(tempfile.mkdtemp(prefix="relay-bench-"))) as server:
        for pending, chats in QUEUES:
            url = fresh_schema(server)
            state = PostgresState(parse_postgres_url(url))
            try:
                _queue(url, pending, chats)
                claims = PostgresClaims(
                    state.database, InstanceId("bench", "host", 1), claim_seconds=60
                )
                first = _median_ms(claims.claim, 1)
                again = _median_ms(claims.claim, args.repeat)

                def booking(claims: PostgresClaims = claims) -> None:
                    claims.book("@c1", 20.0)
                    claims.answered("@c1", 0.0)

                book = _median_ms(booking, args.repeat)
            finally:
                state.close()
            row = {
                "pending": pending,
                "chats": chats,
                "first_claim_ms": round(first, 1),
                "claim_ms": round(again, 1),
                "book_and_answer_ms": round(book, 1),
            }
            results.append(row)
            print(
                f"{pending:>5} pending, {chats:>3} chats: first claim {first:6.1f} ms, "
                f"each pass {again:6.1f} ms, book + answer {book:5.1f} ms"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
