"""The state's boards, posts, deliveries and `apply_poll`, written ONCE for both databases
(SQLite and PostgreSQL) over a small `Driver` (`driver`) that each database implements.

Why one set of modules over a driver rather than two mirrored sets: the statements and the
Python around them were the same in both, and every schema change had to be made twice by
hand. What differs is dialect, and the driver absorbs it:

- SQL is written in one portable form: `?` (or `:name`) placeholders, translated to psycopg's
  `%s` / `%(name)s`; `IN ({ids})` for an id list (SQLite chunks it, PostgreSQL passes one
  array, `= ANY(%s)`; it must come after every other placeholder); `{true}` / `{false}` for
  flag literals (SQLite's 0/1 keep its partial index on `edit_pending = 1` usable).
  `ON CONFLICT ... DO NOTHING`, `count(*) FILTER (...)`, `CAST(? AS TEXT)` and `RETURNING`
  mean the same in both (SQLite 3.30+; relay needs 3.40).
- values: flags go in as Python bools (sqlite3 stores 1/0) and come out through
  `read_flag`; times go in through `stored_time` (UTC ISO text in SQLite, timestamptz in
  PostgreSQL) and come out through `read_time`.

What is really one database's own stays in its package: the connection or pool, locks,
error classification, migrations, PostgreSQL's per-board locks, fencing, leases and claims
(`relay.adapters.postgres.deliveries` adds the claim release to every mark), the copy's
export and import, and the few statements that differ in more than dialect
(`arrivals_per_hour`: SQLite's substr and INDEXED BY against date_trunc).

    driver.py       the Driver and Tx protocols, records from rows
    boards.py       each board's poll state, also held in memory (read on every poll)
    posts.py        posts: known ids, feeds, late articles
    deliveries.py   the queue of messages to send
    poll.py         apply_poll: one poll's intent in one transaction
"""
