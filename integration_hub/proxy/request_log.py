"""The proxy's request log: one row per call, written after the answer is sent.

The proxy hands its rows to a :class:`RequestLogBuffer`, which stores them in batches from a
background thread: a call's answer never waits for a write transaction, and a busy process
writes one transaction per batch instead of one per call.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from integration_hub import errors
from integration_hub.db.models import ApiToken, Connection, Integration, ProxyRequest, User
from integration_hub.db.session import writing
from integration_hub.db.types import time_ordered_uuid, utcnow
from integration_hub.integrations import store as integrations
from integration_hub.integrations.acl import Access, require
from integration_hub.integrations.store import Found

CONNECTION_TOUCH_RESOLUTION = timedelta(seconds=60)
log = logging.getLogger(__name__)


class ProxyRequestNotFound(errors.NotFound):
    code, title = "proxy_request_not_found", "No such call in this integration's request log"


def loggable_path(url: str) -> str:
    """The upstream path with query names but not their values (they may carry data)."""
    parts = urlsplit(url)
    names = [(name, "") for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    return parts.path + (f"?{urlencode(names)}" if names else "")


@dataclass
class CallRecord:
    integration_id: str
    username: str
    method: str
    path: str = ""
    status: int | None = None
    error: str | None = None
    bytes_sent: int = 0
    bytes_received: int = 0
    connection_id: str | None = None
    started: float = 0.0


def write(make_session: sessionmaker, record: CallRecord, duration_ms: int) -> None:
    """Store the record in a session of its own (the request's may be gone by now).

    Logging never breaks an answer: a failure (the integration deleted meanwhile,
    the database busy) is logged and dropped.
    """
    try:
        _write(make_session, record, duration_ms)
    except Exception:  # noqa: BLE001
        log.warning("could not record a proxied call to integration %s", record.integration_id)


def _write(make_session: sessionmaker, record: CallRecord, duration_ms: int,
           at: datetime | None = None) -> None:
    _write_rows(make_session, [(record, duration_ms, at or utcnow())])


Row = tuple[CallRecord, int, datetime]  # the call, its duration in ms, when it ended


def _write_rows(make_session: sessionmaker, rows: list[Row],
                tokens: dict[str, tuple[datetime, timedelta]] | None = None) -> None:
    """One transaction: the rows, ``lastUsedAt`` of the connections they used, and of the
    API tokens the proxy's hot path saw (``tokens``: when, and the touch resolution)."""
    with make_session() as session, writing(session):
        for token_id, (at, resolution) in sorted((tokens or {}).items()):
            session.execute(update(ApiToken).where(
                ApiToken.id == token_id,
                (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < at - resolution))
                .values(last_used_at=at))
        if not rows:
            return
        _insert_calls(session, [
            (time_ordered_uuid(), record.integration_id, record.username, record.method,
             record.path[:2048], record.status, record.error, duration_ms, record.bytes_sent,
             record.bytes_received, at)
            for record, duration_ms, at in rows])
        used = {record.connection_id for record, _, _ in rows if record.connection_id}
        if used:
            now = max(at for _, _, at in rows)
            session.execute(update(Connection).where(
                Connection.id.in_(sorted(used)),
                (Connection.last_used_at.is_(None))
                | (Connection.last_used_at < now - CONNECTION_TOUCH_RESOLUTION))
                .values(last_used_at=now))


_COLUMNS = ("id", "integration_id", "username", "method", "path", "status", "error",
            "duration_ms", "bytes_sent", "bytes_received", "created_at")


def _insert_calls(session: Session, values: list[tuple]) -> None:
    """Insert the rows (in ``_COLUMNS``' order) with the driver, in the session's transaction.

    The writer runs in every worker beside the calls it logs, so a row's cost is taken from
    theirs. On PostgreSQL with ``COPY``: a batch of single-row inserts cost the server and
    the worker several times what one copy does. On SQLite with the driver's
    ``executemany``, each value passed through its column type's own bind processor (a
    statement through SQLAlchemy spent more on each row's parameters than SQLite spent
    storing it)."""
    dialect = session.get_bind().dialect
    driver = session.connection().connection.driver_connection
    if dialect.name == "postgresql":
        with driver.cursor() as cursor, cursor.copy(
                f"COPY proxy_requests ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        return
    columns = ProxyRequest.__table__.columns
    processors = [(index, processor) for index, name in enumerate(_COLUMNS)
                  if (processor := columns[name].type.dialect_impl(dialect)
                      .bind_processor(dialect)) is not None]
    rows = []
    for row in values:
        row = list(row)
        for index, processor in processors:
            row[index] = processor(row[index])
        rows.append(row)
    driver.executemany(f"INSERT INTO proxy_requests ({', '.join(_COLUMNS)}) "
                       f"VALUES ({', '.join('?' * len(_COLUMNS))})", rows)


class RequestLogBuffer:
    """Proxied calls waiting to be stored, written every ``interval`` seconds (or as soon as
    ``batch`` are waiting) by a thread of the process, and when the process exits.

    Rows reach the database within ``interval``; readers in the same process flush first and
    see every call at once. A process that is killed loses at most ``interval`` of rows.
    ``interval`` 0 writes each row in the call that made it, as the single-row ``write`` does.
    """

    def __init__(self, make_session: sessionmaker, interval: float, batch: int = 500):
        self._make_session = make_session
        self._interval = interval
        self._batch = batch
        self._pending: list[Row] = []
        self._tokens: dict[str, tuple[datetime, timedelta]] = {}
        self._lock = threading.Lock()       # guards _pending and the thread
        self._flushing = threading.Lock()   # one flush at a time, rows stay in order
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        atexit.register(self.flush)

    def add(self, record: CallRecord, duration_ms: int) -> None:
        if self._interval <= 0:
            write(self._make_session, record, duration_ms)
            return
        with self._lock:
            self._pending.append((record, duration_ms, utcnow()))
            full = len(self._pending) >= self._batch
            self._start_thread()
        if full:
            self._wake.set()

    def touch_token(self, token_id: str, at: datetime, resolution: timedelta) -> None:
        """Note that an API token was used at ``at``; written with the next batch, unless
        its ``lastUsedAt`` is within ``resolution`` of it by then."""
        if self._interval <= 0:
            try:
                _write_rows(self._make_session, [], {token_id: (at, resolution)})
            except Exception:  # noqa: BLE001 - a touch never breaks a call
                log.warning("could not note the use of an API token")
            return
        with self._lock:
            self._tokens[token_id] = (at, resolution)
            self._start_thread()

    def _start_thread(self) -> None:
        # Started by the first call in each process (gunicorn forks after importing).
        if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="request-log", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Store every waiting row now; a batch that fails is retried row by row, and
        rows that still fail (their integration deleted meanwhile) are dropped."""
        with self._flushing:
            with self._lock:
                rows, self._pending = self._pending, []
                tokens, self._tokens = self._tokens, {}
            if not rows and not tokens:
                return
            try:
                _write_rows(self._make_session, rows, tokens)
            except Exception:  # noqa: BLE001
                for record, duration_ms, at in rows:
                    try:
                        _write(self._make_session, record, duration_ms, at)
                    except Exception:  # noqa: BLE001
                        log.warning("could not record a proxied call to integration %s",
                                    record.integration_id)


def list_requests(session: Session, found: Found, start: int,
                  limit: int) -> tuple[list[ProxyRequest], int]:
    require(found.access, Access.OWNER)
    query = select(ProxyRequest).where(ProxyRequest.integration_id == found.integration.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.scalars(query.order_by(ProxyRequest.created_at.desc(), ProxyRequest.id)
                           .offset(start).limit(limit))
    return list(page), total


def get_request(session: Session, found: Found, request_id: str) -> ProxyRequest:
    """One logged call of the integration, for whoever may read its log."""
    require(found.access, Access.OWNER)
    row = session.get(ProxyRequest, request_id)
    if row is None or row.integration_id != found.integration.id:
        raise ProxyRequestNotFound("no such call in this integration's request log")
    return row


def latest(session: Session, user: User, integration_id: str, buffer: RequestLogBuffer,
           start: int, limit: int) -> tuple[Integration, list[ProxyRequest], int]:
    """The integration's latest logged calls (owner or administrator), this process's
    waiting ones included, with the integration (its id names the page)."""
    found = integrations.find(session, user, integration_id)
    buffer.flush()  # this process's latest calls are listed too ...
    session.commit()  # ... from a fresh snapshot (SQLite keeps one per read transaction)
    items, total = list_requests(session, found, start, limit)
    return found.integration, items, total


def logged(session: Session, user: User, integration_id: str, request_id: str) -> ProxyRequest:
    return get_request(session, integrations.find(session, user, integration_id), request_id)
