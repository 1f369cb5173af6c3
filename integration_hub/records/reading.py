"""Reading an integration's records: each view makes one call, which finds the integration
with the caller's access and reads its records store (read access is enough)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from integration_hub.db.models import Integration, Record, User
from integration_hub.integrations import store as integrations
from integration_hub.records import groups as record_groups
from integration_hub.records import lineage as record_lineage
from integration_hub.records import store as records


def page(session: Session, user: User, integration_id: str, query: dict[str, Any], start: int,
         limit: int) -> tuple[Integration, list[Record], int]:
    """The integration's records (``query``: model, includeDeleted, where, sort, fields as
    the view read them), with the integration (its id names the page, whatever slug the
    caller used)."""
    found = integrations.find(session, user, integration_id)
    items, total = records.page(session, found, query.get("model"), start, limit,
                                query.get("include_deleted", False), query.get("where"),
                                query.get("sort"), query.get("fields"))
    return found.integration, items, total


def get(session: Session, user: User, integration_id: str, model: str, record_id: str) -> Record:
    """One record, knowing the caller's access (its forms offer what that allows)."""
    found = integrations.find(session, user, integration_id)
    record = records.get(session, found, model, record_id)
    record.caller_access = found.access
    return record


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


def groups(session: Session, user: User, integration_id: str, model: str, column: str,
           where: str | None) -> tuple[Integration, record_groups.Groups]:
    """``GET .../record-groups``: how many live records hold each value of ``column``."""
    found = integrations.find(session, user, integration_id)
    return found.integration, record_groups.count_groups(
        session, found.integration.id, records.check_model(model), column, where)
