"""Serialising writers across threads, processes and machines, in the database itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, delete, select, text, tuple_
from sqlalchemy.orm import Session

from integration_hub.db.models import Tenant


def serialise_tenant_writes(session: Session, tenant_id: str) -> None:
    """Hold the tenant's row lock until the transaction ends.

    Call it first in a fresh transaction (commit before): on PostgreSQL and
    MySQL it is ``SELECT ... FOR UPDATE``; on SQLite a no-op write, which takes
    the database's single write lock (waiting up to the busy timeout).
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE tenants SET id = id WHERE id = :id"), {"id": tenant_id})
    else:
        session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())


def delete_unlocked(session: Session, model: type[Any], condition: ColumnElement[bool]) -> int:
    """Delete the rows of ``model`` matching ``condition`` that no other transaction holds;
    answers how many went.

    For purges that run beside the work that writes the same table (forgetting expired
    counters or sessions while others are counted or started): on PostgreSQL the rows
    are chosen ``FOR UPDATE SKIP LOCKED``, so a purge never waits for a row, and so never
    closes a cycle of waits (a deadlock, answered as an error) with the writers; what it
    skips goes next time. SQLite has one writer at a time: a plain DELETE.
    """
    if session.get_bind().dialect.name == "sqlite":
        return session.execute(delete(model).where(condition)).rowcount
    key = list(model.__table__.primary_key.columns)
    chosen = select(*key).where(condition).with_for_update(skip_locked=True)
    return session.execute(delete(model).where(tuple_(*key).in_(chosen)),
                           execution_options={"synchronize_session": False}).rowcount
