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
    # 5 (routes): a delivery per (post, route). `route` is the route's key (chat, or
    # "chat#topic"); `chat` where it is sent (it follows a group that became a supergroup).
    # Rows from before keep their chat as their key, which is what the `chat` shorthand's key
    # is, so a config rewritten as routes keeps its queue. `sent_as` says what was sent (an
    # edit must know text from caption; a digest is never edited); `edit_*` the edits queued
    # when a post's title changes. `held`: (post, route) seen below a route's thresholds.
    """
    CREATE TABLE deliveries_routed (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        board_id TEXT NOT NULL,
        post_id TEXT NOT NULL,
        route TEXT NOT NULL,
        chat TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        not_before TEXT,
        created TEXT NOT NULL,
        sent_at TEXT,
        message_id INTEGER,
        sent_as TEXT NOT NULL DEFAULT '',   -- '', 'text', 'photo', 'digest'
        edit_pending INTEGER NOT NULL DEFAULT 0,
        edit_tries INTEGER NOT NULL DEFAULT 0,
        edit_error TEXT NOT NULL DEFAULT '',
        UNIQUE (board_id, post_id, route),
        FOREIGN KEY (board_id, post_id) REFERENCES posts(board_id, id) ON DELETE CASCADE
    );
    INSERT INTO deliveries_routed (seq, board_id, post_id, route, chat, status, attempts,
        last_error, not_before, created, sent_at, message_id, sent_as)
    SELECT seq, board_id, post_id, chat, chat, status, attempts, last_error, not_before,
        created, sent_at, message_id, CASE WHEN message_id IS NULL THEN '' ELSE 'text' END
    FROM deliveries;
    DROP TABLE deliveries;
    ALTER TABLE deliveries_routed RENAME TO deliveries;
    CREATE INDEX deliveries_pending ON deliveries (status, seq);
    CREATE INDEX deliveries_by_board ON deliveries (board_id, status);
    CREATE INDEX deliveries_edits ON deliveries (edit_pending) WHERE edit_pending = 1;
    CREATE TABLE held (
        board_id TEXT NOT NULL,
        post_id TEXT NOT NULL,
        route TEXT NOT NULL,
        PRIMARY KEY (board_id, post_id, route),
        FOREIGN KEY (board_id, post_id) REFERENCES posts(board_id, id) ON DELETE CASCADE
    ) WITHOUT ROWID;
    """,
    # 6: the quiet-board alarm told, kept across restarts: the told silence's start (UTC
    # ISO, the quiet verdict's `since`), NULL when none was told or posts came again
    """
    ALTER TABLE boards ADD COLUMN quiet_alarmed TEXT;
    """,
    # 7: a counter of the changes a board's feed shows (new posts, retitles, late articles),
    # so that a listener serving feeds from the state knows, from one row, when to re-render
    """
    ALTER TABLE boards ADD COLUMN feed_changes INTEGER NOT NULL DEFAULT 0;
    """,
)
