"""The database's change generation: what the proxy's per-process caches are checked against.

Every committed change to a table those caches are built from (``WATCHED_TABLES``) moves the
generation, in the transaction that makes the change; an entry built at another generation
than ``current()`` is stale (docs/decisions.md, "Performance"):

- **SQLite**: the transaction upserts the one row of ``cache_generations``; ``current()``
  reads it with a raw ``sqlite3`` connection per thread (no pool, no ORM: microseconds).
- **PostgreSQL**: the transaction runs ``pg_notify`` (a row every writer updates would
  serialise them and invite deadlocks); one listener thread per process and database counts
  the notifications. While it is not listening nobody can tell what changed, so
  ``current()`` answers ``None`` and the caches must not be trusted.

The unit of work is watched on the ``Session`` class, so every session moves it: requests,
CLI commands, the queue's tasks, the request log's writer, tests' own sessions. Statements
given as SQL text are not inspected (the one on a watched table, ``db/locks.py``, changes
nothing). ``last_used_at`` alone moves nothing: the hot path writes it, no cache holds it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

log = logging.getLogger(__name__)

EXTENSION = "integration_hub.generations"
CHANNEL = "integration_hub_changes"
# The listener's thread (with its database's name) and its connection's application_name.
LISTENER_NAME = "integration-hub change listener"
WATCHED_TABLES = frozenset({"api_tokens", "users", "tenants", "teams", "team_members",
                            "integrations", "integration_shares", "connections"})
# Written by the proxy's hot path itself (at most once a minute per token or connection) and
# read by no cache: a change of these alone leaves the generation where it is.
UNWATCHED_COLUMNS = frozenset({"last_used_at"})

# The row starts at the clock in nanoseconds when it is missing (tests empty every table):
# later than any value the count it replaces reached, so an old tag never matches again.
_SQLITE_BUMP = text("INSERT INTO cache_generations (id, value) VALUES (1, :start) "
                    "ON CONFLICT (id) DO UPDATE SET value = value + 1")
_POSTGRES_BUMP = text(f"SELECT pg_notify('{CHANNEL}', '')")
_SQLITE_READ = "SELECT value FROM cache_generations WHERE id = 1"
# A read that would wait longer than this answers None (caches bypassed for one call):
# in WAL mode readers do not wait for writers, so this is only for the unexpected.
_SQLITE_READ_TIMEOUT = 0.25
# How long a value read is good for the process's other calls (see _SqliteRow): well
# within the 100 ms a change may take to reach another process.
_SQLITE_REUSE = 0.02
# The listener checks its connection when nothing arrived for this long, reconnects after
# the first delay, doubling up to the last, and gives up on a database that is gone.
_LISTENER_CHECK_EVERY = 10.0
_RETRY_FIRST, _RETRY_LAST = 0.05, 5.0
# A server that vanished without a word (a network partition) is noticed within about
# twenty seconds rather than the kernel's minutes.
_DEAD_PEER_LIMITS = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
                     "keepalives_count": 3, "tcp_user_timeout": 20000}
_BUMPED = "integration_hub.generations.bumped"


class Generations:
    """The database's change generation as this process knows it.

    This base knows no source (an in-memory or unsupported database): it never answers one.
    """

    def current(self) -> int | None:
        """The generation now; ``None``: caches must not be trusted now (no source, the
        listener down)."""
        return None


def generations_of(app: Flask) -> Generations:
    return app.extensions[EXTENSION]


def init_app(app: Flask, database_url: str) -> None:
    """Give the app the generation of its database (one per process and database, shared by
    every app on it) and watch every session's unit of work (once per process)."""
    _watch_sessions()
    app.extensions[EXTENSION] = _shared(make_url(database_url))


# --- reading -----------------------------------------------------------------------------

class _SqliteRow(Generations):
    """The row of ``cache_generations``, read with a connection per thread (and process:
    SQLite connections must not cross a fork).

    A value read is shared by the process's threads for ``_SQLITE_REUSE`` seconds, unless
    this process committed a change since: its own changes count on its next call, another
    process's within that time. Under load, a read per call made every thread give up the
    interpreter lock once more per call, and wait to take it back."""

    def __init__(self, path: str) -> None:
        # mode=rw: a missing file is an error here, never created by a read.
        self._uri = f"{Path(path).resolve().as_uri()}?mode=rw"
        self._local = threading.local()
        self._commits = 0  # this process's commits that moved the generation
        self._read: tuple[int, float, int | None] = (-1, 0.0, None)  # (commits, when, value)

    def changed(self) -> None:
        self._commits += 1

    def current(self) -> int | None:
        commits, when, value = self._read
        now = time.monotonic()
        if commits == self._commits and now - when < _SQLITE_REUSE:
            return value
        commits = self._commits  # before the read: a commit meanwhile reads again
        value = self._read_row()
        self._read = (commits, now, value)
        return value

    def _read_row(self) -> int | None:
        held = getattr(self._local, "held", None)
        if held is None or held[0] != os.getpid():
            held = self._open()
            if held is None:
                return None
        try:
            # fetchall steps the statement to its end, ending the read transaction: an open
            # one would hold back WAL checkpoints.
            rows = held[1].execute(_SQLITE_READ).fetchall()
        except sqlite3.Error:
            self._local.held = None
            return None
        return rows[0][0] if rows else None

    def _open(self) -> tuple[int, sqlite3.Cursor] | None:
        try:
            connection = sqlite3.connect(self._uri, uri=True, timeout=_SQLITE_READ_TIMEOUT,
                                         isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            return None
        self._local.held = (os.getpid(), connection.cursor())
        return self._local.held


class _Listener(Generations):
    """A count of the database's change notifications, kept by a daemon thread of this
    process holding a ``LISTEN`` connection; started on the first ``current()``."""

    def __init__(self, url: URL) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._name = f"{LISTENER_NAME} ({url.database})"
        self._value = time.time_ns()
        self._listening = False
        self._pid = 0  # the process whose thread listens
        self._lock = threading.Lock()

    def current(self) -> int | None:
        if self._pid != os.getpid():
            self._start()
        return self._value if self._listening else None

    def changed(self) -> None:
        with self._lock:
            self._value += 1

    def forked(self) -> None:
        """In a new child process: no thread listens here yet, and a lock the parent's
        threads held stays held in the child."""
        self._lock = threading.Lock()
        self._listening = False
        self._pid = 0

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._listening = False
            self._pid = os.getpid()
        threading.Thread(target=self._listen, name=self._name, daemon=True).start()

    def _listen(self) -> None:
        import psycopg  # only where PostgreSQL is used

        delay = _RETRY_FIRST
        while True:
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10,
                                     application_name=LISTENER_NAME, **_DEAD_PEER_LIMITS,
                                     ) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.changed()  # anything may have changed while nobody listened
                    self._listening = True
                    delay = _RETRY_FIRST
                    while True:
                        for _ in connection.notifies(timeout=_LISTENER_CHECK_EVERY):
                            self.changed()
                        connection.execute("SELECT 1")  # a lost server shows here
            except psycopg.Error as error:
                self._listening = False
                if _database_gone(error):
                    log.info("the change generation's database is gone; its listener ends")
                    return
                log.warning("the change generation's listener lost its connection; caches are "
                            "bypassed until it is back: %s", str(error).strip()[:300])
            except Exception:  # noqa: BLE001 - the thread must outlive any failure
                self._listening = False
                log.exception("the change generation's listener failed; it starts again")
            time.sleep(delay)
            delay = min(delay * 2, _RETRY_LAST)


def _database_gone(error: Exception) -> bool:
    """The database no longer exists (tests drop theirs): nothing will change any more.
    libpq reports it on connecting, where psycopg has no SQLSTATE, only the message."""
    message = str(error)
    return getattr(error, "sqlstate", None) == "3D000" or (
        "database \"" in message and "does not exist" in message)


_shared_by_url: dict[str, Generations] = {}
_shared_lock = threading.Lock()


def _key(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _shared(url: URL) -> Generations:
    with _shared_lock:
        found = _shared_by_url.get(_key(url))
        if found is None:
            found = _shared_by_url[_key(url)] = _source(url)
        return found


def _source(url: URL) -> Generations:
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = url.database or ""
        # In memory, or named by a URI: no file this process could open beside the engine.
        plain_file = path not in ("", ":memory:") and not path.startswith("file:")
        return _SqliteRow(path) if plain_file else Generations()
    if backend == "postgresql":
        return _Listener(url)
    return Generations()


def _forked() -> None:
    for generations in _shared_by_url.values():
        if isinstance(generations, _Listener):
            generations.forked()


# --- bumping, in the unit of work ---------------------------------------------------------

@dataclass(slots=True)
class _Bump:
    """This session's transaction moved the generation: where (the savepoint or the
    transaction it was made in, so that rolling that back forgets it) and of which
    database."""

    made_in: SessionTransaction | None
    key: str


_watching = False


def _watch_sessions() -> None:
    global _watching
    with _shared_lock:
        if _watching:
            return
        _watching = True
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "do_orm_execute", _before_statement)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_rollback", _after_rollback)
    event.listen(Session, "after_transaction_end", _after_transaction_end)
    os.register_at_fork(after_in_child=_forked)


def bump(connection: Connection) -> None:
    """Move the generation in the connection's transaction. Sessions do this themselves;
    a write that bypasses them (a data migration changing watched rows, with
    ``op.get_bind()``) calls it, or processes that serve meanwhile keep what they cached
    until their caches' TTL."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        connection.execute(_SQLITE_BUMP, {"start": time.time_ns()})
    elif dialect == "postgresql":
        connection.execute(_POSTGRES_BUMP)


def _bump(session: Session, bind_arguments: dict[str, Any]) -> None:
    connection = session.connection(bind_arguments=bind_arguments)
    bump(connection)
    made_in = session.get_nested_transaction() or session.get_transaction()
    session.info[_BUMPED] = _Bump(made_in, _key(connection.engine.url))


_watched_mappers: dict[Any, bool] = {}


def _watched(instance: object) -> Any:
    """The instance's mapper when its rows live in a watched table, else None."""
    mapper = inspect(instance).mapper
    watched = _watched_mappers.get(mapper)
    if watched is None:
        watched = _watched_mappers[mapper] = any(
            table.name in WATCHED_TABLES for table in mapper.tables)
    return mapper if watched else None


def _really_changed(instance: object) -> bool:
    """An attribute other than ``last_used_at`` has a new value (a dirty instance may have
    been assigned the value it had)."""
    return any(attribute.history.has_changes() for attribute in inspect(instance).attrs
               if attribute.key not in UNWATCHED_COLUMNS)


def _before_flush(session: Session, _flush_context: Any, _instances: Any) -> None:
    if _BUMPED in session.info:
        return
    for instance in chain(session.new, session.deleted):
        if (mapper := _watched(instance)) is not None:
            return _bump(session, {"mapper": mapper})
    for instance in session.dirty:
        if (mapper := _watched(instance)) is not None and _really_changed(instance):
            return _bump(session, {"mapper": mapper})
    return None


def _before_statement(state: ORMExecuteState) -> None:
    """``insert``, ``update`` and ``delete`` statements run through a session (bulk and
    Core statements: no flush sees them)."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    if _BUMPED in state.session.info:
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) not in WATCHED_TABLES:
        return
    if state.is_update and _sets_only_unwatched(state, table):
        return
    _bump(state.session, state.bind_arguments)


def _sets_only_unwatched(state: ORMExecuteState, table: Any) -> bool:
    statement = state.statement
    named = [getattr(column, "key", None) or str(column)
             for column in chain(statement._values or (),  # noqa: SLF001 - the SET clause
                                 dict(getattr(statement, "_ordered_values", None) or ()))]
    keys = {column.key for column in table.primary_key}
    parameters = state.parameters
    rows = [parameters] if isinstance(parameters, dict) else list(parameters or ())
    named += [name for row in rows for name in row if name not in keys]
    return bool(named) and set(named) <= UNWATCHED_COLUMNS


def _after_commit(session: Session) -> None:
    bump = session.info.get(_BUMPED)
    if bump is None:
        return
    if session.in_nested_transaction():  # a savepoint released: its bump is its parent's now
        savepoint = session.get_nested_transaction()
        if bump.made_in is savepoint:
            bump.made_in = savepoint.parent
        return
    del session.info[_BUMPED]
    # This process sees its own change on its next call, before the notification arrives.
    generations = _shared_by_url.get(bump.key)
    if isinstance(generations, _Listener | _SqliteRow):
        generations.changed()


def _after_rollback(session: Session) -> None:
    """A savepoint or the transaction rolled back: a bump made in it is gone with it."""
    bump = session.info.get(_BUMPED)
    if bump is None:
        return
    rolled_back = session.get_nested_transaction() or session.get_transaction()
    outer = rolled_back.parent if rolled_back is not None else None
    while outer is not None:
        if outer is bump.made_in:
            return  # made outside what was rolled back: still pending
        outer = outer.parent
    del session.info[_BUMPED]


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # committed, rolled back or closed: the next one is new
        session.info.pop(_BUMPED, None)
