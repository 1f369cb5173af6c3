"""The proxy's request log: one row per call, written after the answer is sent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from integration_hub.db.models import Connection, ProxyRequest
from integration_hub.db.session import writing
from integration_hub.db.types import utcnow
from integration_hub.services.acl import Access, require
from integration_hub.services.integrations import Found

CONNECTION_TOUCH_RESOLUTION = timedelta(seconds=60)
log = logging.getLogger(__name__)


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


def _write(make_session: sessionmaker, record: CallRecord, duration_ms: int) -> None:
    with make_session() as session, writing(session):
        session.add(ProxyRequest(
            integration_id=record.integration_id, username=record.username,
            method=record.method, path=record.path[:2048], status=record.status,
            error=record.error, duration_ms=duration_ms, bytes_sent=record.bytes_sent,
            bytes_received=record.bytes_received))
        if record.connection_id:
            now = utcnow()
            session.execute(update(Connection).where(
                Connection.id == record.connection_id,
                (Connection.last_used_at.is_(None))
                | (Connection.last_used_at < now - CONNECTION_TOUCH_RESOLUTION))
                .values(last_used_at=now))


def list_requests(session: Session, found: Found, start: int,
                  limit: int) -> tuple[list[ProxyRequest], int]:
    require(found.access, Access.OWNER)
    query = select(ProxyRequest).where(ProxyRequest.integration_id == found.integration.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.scalars(query.order_by(ProxyRequest.created_at.desc(), ProxyRequest.id)
                           .offset(start).limit(limit))
    return list(page), total
