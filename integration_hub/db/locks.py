"""Serialising writers across threads, processes and machines, in the database itself."""

from __future__ import annotations

from sqlalchemy import select, text
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
