"""The state file's schema, as numbered forward migrations (PRAGMA user_version counts them).

A migration is never edited once released: a change is a new entry at the end.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: boards, posts, deliveries
    """
    CREATE TABLE boards (
        id TEXT PRIMARY KEY,
        first_poll TEXT,            -- UTC ISO; NULL until the first successful poll
        baseline TEXT,              -- oldest id of the first poll: older unseen ids are history
        last_poll TEXT,
        last_success TEXT,
        last_new TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        last_reason TEXT NOT NULL DEFAULT '',
        last_error TEXT NOT NULL DEFAULT '',
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        feed_dirty INTEGER NOT NULL DEFAULT 1,
        alarmed INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE posts (
        board_id TEXT NOT NULL REFERENCES boards(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        sort_key INTEGER NOT NULL,
        url TEXT NOT NULL,
        title TEXT NOT NULL,
        number INTEGER,
        author TEXT NOT NULL DEFAULT '',
        published TEXT,
        first_seen TEXT NOT NULL,
        updated TEXT NOT NULL,
        notice INTEGER NOT NULL DEFAULT 0,
        excerpt TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL DEFAULT '',
        image TEXT,
        article_fetched INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (board_id, id)
    ) WITHOUT ROWID;
    CREATE INDEX posts_by_age ON posts (board_id, sort_key DESC, id DESC);
    CREATE TABLE deliveries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- creation order = oldest post first
        board_id TEXT NOT NULL,
        post_id TEXT NOT NULL,
        chat TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        not_before TEXT,            -- UTC ISO: do not try before (backoff, retry_after)
        created TEXT NOT NULL,
        sent_at TEXT,
        message_id INTEGER,
        UNIQUE (board_id, post_id, chat),
        FOREIGN KEY (board_id, post_id) REFERENCES posts(board_id, id) ON DELETE CASCADE
    );
    CREATE INDEX deliveries_pending ON deliveries (status, seq);
    CREATE INDEX deliveries_by_board ON deliveries (board_id, status);
    """,
    # 2: count article fetch attempts, so a board whose articles need a login is not asked
    # for the same pages on every poll forever
    """
    ALTER TABLE posts ADD COLUMN article_tries INTEGER NOT NULL DEFAULT 0;
    UPDATE posts SET article_tries = 1 WHERE article_fetched = 0;
    """,
    # 3: what the boards show beside the title: 말머리 (category) and the counts (comments,
    # views, votes; NULL where the skin prints none), kept up to date by later polls
    """
    ALTER TABLE posts ADD COLUMN category TEXT NOT NULL DEFAULT '';
    ALTER TABLE posts ADD COLUMN comments INTEGER;
    ALTER TABLE posts ADD COLUMN views INTEGER;
    ALTER TABLE posts ADD COLUMN votes INTEGER;
    """,
    # 4: the sanitized article body, for boards whose feed carries full articles; recent
    # arrivals of every board at once, for the status page's sparklines
    """
    ALTER TABLE posts ADD COLUMN body_html TEXT NOT NULL DEFAULT '';
    CREATE INDEX posts_by_first_seen ON posts (first_seen);
    CREATE INDEX posts_by_board_first_seen ON posts (board_id, first_seen);
    """,
)
