"""The audit log: who did what to which target, when, from where, and how it ended.

Successful actions are written in the same transaction as the change they
describe, so an entry exists exactly when the change does. Refused or failed
attempts are written in a transaction of their own (the change's was rolled back).
Entries name changed fields, never their values: nothing secret reaches the log.

Refused or failed attempts cannot grow the log without bound: one repeated within
``REPEAT_WINDOW`` of its first entry (same actor, address, action, target, outcome and
code) is counted on that entry (``count``, ``last_at``). An actor who already has
``DISTINCT_ATTEMPTS`` such entries in the window gets one more per action and outcome,
counting the rest without their targets and addresses (``detail`` says
``variousTargets``). Successes are never merged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from integration_hub import errors
from integration_hub.db.models import AuditEntry, User
from integration_hub.db.session import writing
from integration_hub.db.types import utcnow

log = logging.getLogger(__name__)
OUTCOMES = ("success", "denied", "failed")
REPEAT_WINDOW = timedelta(hours=1)
DISTINCT_ATTEMPTS = 20  # entries of refused or failed attempts per actor and window


@dataclass(frozen=True)
class Actor:
    """Who acts and through what: a user over the API or a web page, or an operator on the
    command line. Built where the call arrives (``edge.security.current_actor`` for HTTP,
    the CLI for itself) and passed to the use case: the rules never read the request."""

    tenant_id: str | None
    username: str | None
    channel: str = "api"
    source_ip: str | None = None
    user: User | None = field(default=None, compare=False, repr=False)  # for access checks

    @classmethod
    def of_user(cls, user: User, channel: str, source_ip: str | None) -> Actor:
        return cls(tenant_id=user.tenant_id, username=user.username, channel=channel,
                   source_ip=source_ip, user=user)

    @classmethod
    def operator(cls, tenant_id: str | None = None) -> Actor:
        """The operator at the command line: no user, every tenant (``tenant_id`` names
        the tenant an entry belongs to, if any)."""
        return cls(tenant_id=tenant_id, username=None, channel="cli")


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
    """A refused or failed attempt, in a session of its own, counted on an entry of the
    same attempt when there is one; never breaks the answer."""
    try:
        with make_session() as session, writing(session):
            _count_attempt(session, actor, action, target_type,
                           None if target_id is None else str(target_id)[:255], outcome,
                           error_code)
    except Exception:  # noqa: BLE001
        log.warning("could not write the audit entry for a failed %s", action)


def _count_attempt(session: Session, actor: Actor, action: str, target_type: str | None,
                   target_id: str | None, outcome: str, error_code: str | None) -> None:
    now = utcnow()
    recent = (_is(AuditEntry.tenant_id, actor.tenant_id), _is(AuditEntry.actor, actor.username),
              AuditEntry.at >= now - REPEAT_WINDOW, AuditEntry.outcome != "success")
    same = (*recent, AuditEntry.action == action, AuditEntry.outcome == outcome,
            _is(AuditEntry.error_code, error_code), _is(AuditEntry.target_type, target_type),
            AuditEntry.channel == actor.channel)
    entry = _newest(session, *same, _is(AuditEntry.target_id, target_id),
                    _is(AuditEntry.source_ip, actor.source_ip))
    detail: dict[str, Any] = {}
    if entry is None and session.scalar(
            select(func.count()).select_from(AuditEntry).where(*recent)) >= DISTINCT_ATTEMPTS:
        target_id, detail = None, {"variousTargets": True}
        actor = Actor(actor.tenant_id, actor.username, actor.channel, None, actor.user)
        entry = _newest(session, *same, AuditEntry.target_id.is_(None),
                        AuditEntry.source_ip.is_(None))
    if entry is None:
        record(session, actor, action, target_type, target_id, detail, outcome=outcome,
               error_code=error_code)
    else:
        session.execute(update(AuditEntry).where(AuditEntry.id == entry)
                        .values(count=AuditEntry.count + 1, last_at=now)
                        .execution_options(synchronize_session=False))


def _newest(session: Session, *conditions: ColumnElement[bool]) -> str | None:
    return session.scalar(select(AuditEntry.id).where(*conditions)
                          .order_by(AuditEntry.at.desc()).limit(1))


def _is(column: Any, value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


class AuditEntryNotFound(errors.NotFound):
    code, title = "audit_entry_not_found", "No such audit entry"


def get(session: Session, user: User, entry_id: str) -> AuditEntry:
    errors.require_superuser(user)
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
    errors.require_superuser(user)
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
