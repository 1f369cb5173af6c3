"""Engine and per-request session handling.

SQLite runs with foreign keys on, WAL and a busy timeout, and with the driver's
own transaction handling switched off so that SAVEPOINTs and
``BEGIN IMMEDIATE`` (serialised writers) behave as documented.

When the database cannot serve (gone, restarting, unreachable, locked past the busy
timeout) the driver's error becomes ``errors.DatabaseUnavailable`` (503 with
``Retry-After``, docs/security.md, "The hub's database going away"); the connection is
dropped from the pool as SQLAlchemy does for any disconnect, and the transaction it
carried was never committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.orm import Session, sessionmaker

from integration_hub import errors, json_body
from integration_hub.db import generations
from integration_hub.private_files import private_sqlite

log = logging.getLogger(__name__)
_EXTENSION = "integration_hub.db"
_write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)
BUSY_TIMEOUT = 30.0  # seconds a SQLite writer waits for the write lock, unless told


def make_engine(url: str, idle_before_ping: float | None = None,
                busy_timeout: float = BUSY_TIMEOUT, **kwargs) -> Engine:
    # Statement parameters may hold secrets (ciphertext, digests): keep them out of
    # error messages and logs.
    kwargs.setdefault("hide_parameters", True)
    # JSON columns are read by the hub's own loader on every backend (psycopg's and
    # SQLite's would raise RecursionError on JSON deeper than the stack allows).
    kwargs.setdefault("json_deserializer", json_body.read_stored)
    if url.startswith("sqlite"):
        private_sqlite(url)  # before SQLite creates it with the umask: 0600, companions alike
        engine = create_engine(url, connect_args={"timeout": busy_timeout,
                                                  "check_same_thread": False}, **kwargs)
        event.listen(engine, "handle_error", _unavailable)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            # A transaction that will write takes the write lock up front: SQLite
            # cannot upgrade a read transaction once another writer has committed.
            connection.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")

        return engine
    engine = create_engine(url, **kwargs)
    event.listen(engine, "handle_error", _unavailable)
    idle = IDLE_BEFORE_PING if idle_before_ping is None else idle_before_ping
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout",
                 lambda dbapi_connection, record, _proxy: _ping_if_idle(dbapi_connection, record,
                                                                        idle))
    return engine


# A pooled connection is checked before use only when it sat idle this long: a busy
# process does not pay a round trip per request for it, and a connection the server
# dropped meanwhile (restart, idle timeout) is replaced before a request sees it.
IDLE_BEFORE_PING = 5.0


def _note_checkin(_dbapi_connection, record) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, idle: float) -> None:
    checked_in = record.info.get("checked_in_at")
    if checked_in is None or time.monotonic() - checked_in < idle:
        return  # new, or in use a moment ago
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()
    except Exception as failure:  # noqa: BLE001 - any failure: the pool connects again
        raise exc.DisconnectionError("the database dropped an idle connection") from failure


# SQLite's result codes (the low byte; the rest is the extended code) for "another
# connection holds the lock": what a writer gets once the busy timeout has passed.
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
# PostgreSQL's SQLSTATEs for a server that cannot serve for now: connection exceptions,
# insufficient resources (too many connections, disk full), and a server shutting down,
# crashed, starting up or ending idle sessions (operator intervention).
_PG_UNAVAILABLE_CLASSES = ("08", "53")
_PG_UNAVAILABLE_STATES = ("57P01", "57P02", "57P03", "57P05")


def cannot_serve(context: ExceptionContext) -> bool:
    """Whether a driver error says the database is unavailable, rather than that the
    statement is wrong (a constraint, a syntax error, a missing table)."""
    if context.is_disconnect:
        return True
    original = context.original_exception
    code = getattr(original, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    if hasattr(original, "sqlstate"):  # psycopg
        state = original.sqlstate
        if state is None:  # no answer from a server at all: it could not be reached
            return isinstance(context.sqlalchemy_exception, exc.OperationalError)
        return state[:2] in _PG_UNAVAILABLE_CLASSES or state in _PG_UNAVAILABLE_STATES
    return False


def _unavailable(context: ExceptionContext) -> None:
    """``handle_error`` of the hub's engines: an unavailable database is a 503, not a bug."""
    if cannot_serve(context):
        log.warning("the hub's database is unavailable: %s",
                    str(context.original_exception).strip().splitlines()[0][:300])
        raise errors.DatabaseUnavailable("the hub's database cannot serve requests for the "
                                         "moment; nothing was changed, try again shortly")


def pool_exhausted(error: BaseException) -> bool:
    """No pooled connection came free in time (the pool's own timeout)."""
    return isinstance(error, exc.TimeoutError)


def init_app(app: Flask, database_url: str, busy_timeout: float = BUSY_TIMEOUT) -> None:
    engine = make_engine(database_url, busy_timeout=busy_timeout)
    app.extensions[_EXTENSION] = sessionmaker(bind=engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)
    generations.init_app(app, database_url)  # what the proxy's caches are checked against


def carry(app: Flask, key: str, value: object) -> None:
    """Give every session the app opens ``value`` as ``session.info[key]``: wiring that
    domain code reads from the session it is handed, with or without an app context."""
    sessions = app.extensions[_EXTENSION]
    sessions.configure(info={**sessions.kw.get("info", {}), key: value})


def db_session() -> Session:
    """The session of the current request or CLI command, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions[_EXTENSION]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def end_transaction(session: Session) -> None:
    """End the transaction the session's reads opened (committing what it did), handing
    its connection back to the pool: call before waiting for another server, so that no
    transaction, lock or pooled connection is held while it answers."""
    if session.in_transaction():  # else there is nothing to end (commit would begin one)
        session.commit()


@contextmanager
def writing(session: Session) -> Iterator[Session]:
    """A fresh transaction meant to write: committed at the end, rolled back on error.

    Whatever the session read before is committed first, so the block starts
    from current data; on SQLite the block holds the write lock from its start.
    """
    session.commit()
    token = _write_intent.set(True)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _write_intent.reset(token)


# A use case's check, run inside its transaction on the object it loaded, that the object is
# still the version the caller read (If-Match: edge/conditional.py builds one).
Precondition = Callable[[Any], None]


def no_precondition(_subject: Any) -> None:
    """The caller named no version: any will do."""


@contextmanager
def transaction() -> Iterator[Session]:
    """The request's session in a write transaction (see ``writing``)."""
    with writing(db_session()) as session:
        yield session
