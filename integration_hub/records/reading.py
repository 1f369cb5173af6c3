"""Reading an integration's records: each view makes one call, which finds the integration
with the caller's access and reads its records store (read access is enough)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from integration_hub.db.models import Integration, Record, User
from integration_hub.integrations import store as integrations
from integration_hub.records import lineage as record_lineage
from integration_hub.records import store as records


def page(session: Session, user: User, integration_id: str, model: str | None, start: int,
         limit: int, include_deleted: bool) -> tuple[Integration, list[Record], int]:
    """The integration's records, by model then id, with the integration (its id names the
    page, whatever slug the caller used)."""
    found = integrations.find(session, user, integration_id)
    items, total = records.page(session, found, model, start, limit, include_deleted)
    return found.integration, items, total


def get(session: Session, user: User, integration_id: str, model: str, record_id: str) -> Record:
    return records.get(session, integrations.find(session, user, integration_id), model,
                       record_id)


def store(session: Session, user: User, integration_id: str,
          operation: dict[str, Any]) -> tuple[Integration, dict[str, Any]]:
    """``POST .../store``: a list, get or sum operation, as the view parsed it."""
    found = integrations.find(session, user, integration_id)
    return found.integration, records.store(
        session, found, operation["op"], operation["model"], limit=operation["limit"],
        offset=operation["offset"], record_id=operation.get("id"), names=operation.get("fields"))


def lineage(session: Session, user: User, integration_id: str, model: str,
            record_id: str) -> tuple[Integration, record_lineage.Lineage]:
    """``GET .../lineage``: the records a record comes from and feeds (read access)."""
    found = integrations.find(session, user, integration_id)
    records.check_model(model)
    return found.integration, record_lineage.of_record(
        session, found.integration.id, record_lineage.End(model, record_id))
