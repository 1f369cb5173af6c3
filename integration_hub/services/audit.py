"""The audit log: who did what to which target, when, from where, and how it ended.

Successful actions are written in the same transaction as the change they
describe, so an entry exists exactly when the change does. Refused or failed
attempts are written in a transaction of their own (the change's was rolled back).
Entries name changed fields, never their values: nothing secret reaches the log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from integration_hub import errors
from integration_hub.db.models import AuditEntry, User
from integration_hub.db.session import writing
from integration_hub.db.types import utcnow
from integration_hub.services.identity import require_superuser

log = logging.getLogger(__name__)
OUTCOMES = ("success", "denied", "failed")


@dataclass(frozen=True)
class Actor:
    """Who acts and through what: a user over the API, or an operator on the command line."""

    tenant_id: str | None
    username: str | None
    channel: str = "api"
    source_ip: str | None = None

    @classmethod
    def of(cls, user: User | None, channel: str | None = None) -> Actor:
        """The user of the current request (address as seen after the trusted proxies),
        or the command line when there is no request."""
        in_request = has_request_context()
        if channel is None:
            channel = ("api" if request.path.startswith("/api") else "web") if in_request else "cli"
        return cls(tenant_id=user.tenant_id if user else None,
                   username=user.username if user else None, channel=channel,
                   source_ip=request.remote_addr if in_request else None)


def record(session: Session, actor: Actor, action: str, target_type: str | None,
           target_id: str | None, detail: Mapping[str, Any] | None = None, *,
           outcome: str = "success", error_code: str | None = None,
           tenant_id: str | None = None) -> AuditEntry:
    """Add an entry to the session's transaction (committed with the change)."""
    entry = AuditEntry(tenant_id=tenant_id if tenant_id is not None else actor.tenant_id,
                       at=utcnow(), actor=actor.username, channel=actor.channel,
                       source_ip=actor.source_ip, action=action, target_type=target_type,
                       target_id=None if target_id is None else str(target_id)[:255],
                       outcome=outcome, error_code=error_code, detail=dict(detail or {}))
    session.add(entry)
    return entry


def record_attempt(make_session: sessionmaker, actor: Actor, action: str, target_type: str | None,
                   target_id: str | None, outcome: str, error_code: str | None) -> None:
    """A refused or failed attempt, in a session of its own; never breaks the answer."""
    try:
        with make_session() as session, writing(session):
            record(session, actor, action, target_type, target_id, outcome=outcome,
                   error_code=error_code)
    except Exception:  # noqa: BLE001
        log.warning("could not write the audit entry for a failed %s", action)


class AuditEntryNotFound(errors.NotFound):
    code, title = "audit_entry_not_found", "No such audit entry"


def get(session: Session, user: User, entry_id: str) -> AuditEntry:
    require_superuser(user)
    entry = session.get(AuditEntry, entry_id)
    if entry is None or entry.tenant_id not in (user.tenant_id, None):
        raise AuditEntryNotFound(f"there is no audit entry {entry_id!r}")
    return entry


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    action: str | None = None       # exact, or a prefix ending in "." ("integration.")
    target_type: str | None = None
    target_id: str | None = None
    outcome: str | None = None
    since: datetime | None = None   # inclusive
    until: datetime | None = None   # exclusive


def page(session: Session, user: User, filters: AuditFilters, start: int,
         limit: int) -> tuple[list[AuditEntry], int]:
    """Newest first: the tenant's entries and the operator's (tenant-wide) ones."""
    require_superuser(user)
    query = select(AuditEntry).where(or_(AuditEntry.tenant_id == user.tenant_id,
                                         AuditEntry.tenant_id.is_(None)))
    if filters.actor:
        query = query.where(AuditEntry.actor == filters.actor)
    if filters.action:
        query = query.where(AuditEntry.action.startswith(filters.action, autoescape=True)
                            if filters.action.endswith(".") else AuditEntry.action == filters.action)
    for column, value in ((AuditEntry.target_type, filters.target_type),
                          (AuditEntry.target_id, filters.target_id),
                          (AuditEntry.outcome, filters.outcome)):
        if value:
            query = query.where(column == value)
    if filters.since:
        query = query.where(AuditEntry.at >= filters.since)
    if filters.until:
        query = query.where(AuditEntry.at < filters.until)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    entries = session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                              .offset(start).limit(limit))
    return list(entries), total
