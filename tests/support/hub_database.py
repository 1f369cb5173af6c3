"""What the hub's own database is doing while the hub waits
for someone else (docs/security.md, "The hub's database while it waits").

``held_transactions(app)`` answers what of the hub's database an open transaction holds while
the test looks, and still holds a second later: on SQLite whether another writer could start
at once (``BEGIN IMMEDIATE`` with no busy timeout) and whether a reader's snapshot keeps the
write-ahead log from being checkpointed (``wal_checkpoint(TRUNCATE)`` answering busy: a read
transaction, which in WAL mode blocks no writer but pins the log, so it grows for as long as
the reader waits); on PostgreSQL the sessions on the hub's database that are inside a
transaction and waiting for their client (``idle in transaction``). Both ask the database
itself, from a connection of the test's own.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy.engine import make_url

WAIT = 20.0  # seconds a test waits for something it started (a failure, never a measure)


def plain_url(database_url: str) -> str:
    """The database URL as libpq takes it (without SQLAlchemy's driver name)."""
    parsed = make_url(database_url)
    return parsed.set(drivername=parsed.get_backend_name()).render_as_string(hide_password=False)


HELD = 1.0  # seconds a transaction must last to count as held across a wait (see below)


def held_transactions(app) -> list[str]:
    """What of the hub's database an open transaction holds, and still holds ``HELD``
    seconds later (empty: nothing). A wait for another server lasts seconds; requests waiting
    for a refresh look at the row in short transactions, which a single look may catch
    midway when the machine is busy (parallel test workers): counted only when the same
    transaction is still there (on SQLite, in every one of three looks)."""
    if make_url(app.config["HUB_SETTINGS"].database_url).get_backend_name() == "sqlite":
        looks = []
        for _ in range(3):
            looks.append(_sqlite_held(app))
            if not looks[-1]:
                return []
            time.sleep(HELD / 2)
        return looks[-1]
    first = _postgres_idle_in_transaction(app)
    if not first:
        return []
    time.sleep(HELD)
    still = _postgres_idle_in_transaction(app)
    return [f"backend {pid} {state} after: {query}"
            for (pid, started), (state, query) in still.items() if (pid, started) in first]


def _sqlite_held(app) -> list[str]:
    url = app.config["HUB_SETTINGS"].database_url
    probe = sqlite3.connect(make_url(url).database, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        busy, _, _ = probe.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.OperationalError as refused:
        return [f"SQLite's write lock: {refused}"]
    finally:
        probe.close()
    return ["a read transaction's snapshot of SQLite's write-ahead log"] if busy else []


def _postgres_idle_in_transaction(app) -> dict[tuple, tuple]:
    """{(pid, transaction start): (state, query)} of the sessions on the hub's database
    inside a transaction and waiting for their client."""
    with psycopg.connect(plain_url(app.config["HUB_SETTINGS"].database_url),
                         autocommit=True) as probe:
        rows = probe.execute(
            "SELECT pid, xact_start, state, left(query, 120) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND state LIKE 'idle in transaction%'").fetchall()
    return {(pid, started): (state, query) for pid, started, state, query in rows}


def wait_until(condition: Callable[[], object], what: str, timeout: float = WAIT):
    """``condition()``'s first true answer, polled; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        answer = condition()
        if answer:
            return answer
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.05)
