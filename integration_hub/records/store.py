"""The records store: items an integration feeds into the hub, by model and id.

Reading needs read access to the integration; importing needs write access. Imports
and syncs both go through ``upsert``; a sync also marks what its listing no longer
holds as deleted (``replace_model``). ``sum`` adds numbers inside the stored JSON in
SQL, exactly and alike on both databases (records/sums.py), so it costs one statement
however many records there are.

See docs/decisions.md, "Records, imports and syncs".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, String, bindparam, func, insert, select, true, update
from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.db.models import Integration, Record
from integration_hub.integrations.acl import Access, require
from integration_hub.integrations.store import Found
from integration_hub.records import filters as record_filters
from integration_hub.records import sums as record_sums
from integration_hub.records import where as record_where
from integration_hub.records.names import FIELD_PATTERN, MODEL_PATTERN

DEFAULT_MODEL = "resources"
# Records per statement: ids per IN (...) on SQLite, records per step of a bulk change.
CHUNK = 500


def count_for(session: Session, integration: Integration) -> int:
    """How many records the integration has stored (deleting it refuses while any are)."""
    return session.scalar(select(func.count()).select_from(Record)
                          .where(Record.integration_id == integration.id)) or 0


class RecordNotFound(errors.NotFound):
    code, title = "record_not_found", "No such record"


def check_model(model: str) -> str:
    if not MODEL_PATTERN.match(model or ""):
        raise errors.ValidationFailed("model must be 1-64 letters, digits, '_', '.' or '-'",
                                      errors={"model": ["letters, digits, '_', '.', '-' (1-64)"]})
    return model


def _fields(names: Iterable[str], purpose: str) -> list[str]:
    names = list(names)
    bad = [name for name in names if not FIELD_PATTERN.fullmatch(name)]
    if bad:
        raise errors.ValidationFailed(
            f"{purpose} names are 1-64 letters, digits, '_' or '-'",
            errors={"fields": [f"not a field name: {name[:64]}" for name in bad]})
    return names


# -- reading ------------------------------------------------------------------------------------

def _scope(integration_id: str, model: str | None, include_deleted: bool = False):
    conditions = [Record.integration_id == integration_id]
    if model is not None:
        conditions.append(Record.model == model)
    if not include_deleted:
        conditions.append(Record.deleted_at.is_(None))
    return conditions


def page(session: Session, found: Found, model: str | None, start: int, limit: int,
         include_deleted: bool = False, where: str | None = None, sort: str | None = None,
         names: str | None = None) -> tuple[list[Record], int]:
    """A page of records, by model then id unless ``sort`` says otherwise; ``where``
    filters them in SQL and ``names`` chooses the data fields shown (records/where.py)."""
    require(found.access, Access.READ)
    if model is not None:
        check_model(model)
    scope = _scope(found.integration.id, model, include_deleted)
    dialect = session.get_bind().dialect.name
    condition = record_where.parse_where(where)
    if condition is not None:
        scope.append(record_filters.condition(condition, dialect))
    keys = record_where.parse_sort(sort)
    shown = record_where.parse_fields(names) or None
    # Two statements, not a window over the page's query (count(*) OVER ()): a window keeps
    # every match, data and all, before the sort can keep only the page, which at 50,000
    # records made a sorted page without a filter 2.3 times slower (docs/performance.md).
    total = session.scalar(select(func.count()).select_from(Record).where(*scope)) or 0
    query = select(Record).where(*scope)
    query = query.order_by(*(record_filters.ordering(keys, dialect) if keys
                             else (Record.model, Record.record_id)))
    rows = list(session.scalars(query.offset(start).limit(limit)))
    for record in rows:
        record.shown_fields = shown
    return rows, total


def live_scope(integration_id: str, model: str) -> list:
    """The conditions selecting a model's live records."""
    return _scope(integration_id, model)


def live_matching(integration_id: str, model: str, where: str, dialect: str) -> list:
    """The conditions of a bulk change: the model's live records ``where`` selects (it is
    required: a bulk change of a whole model is written ``(id,notblank)``)."""
    condition = record_where.parse_where(where)
    if condition is None:
        raise record_where.WhereInvalid(
            "a bulk change needs a where filter; (id,notblank) selects every record",
            errors={"where": ["Missing data for required field."]})
    return [*_scope(integration_id, model),
            record_filters.condition(condition, dialect)]


def get(session: Session, found: Found, model: str, record_id: str, *,
        for_change: bool = False) -> Record:
    """The record; ``for_change``: read afresh and locked until the transaction ends
    (PostgreSQL: FOR NO KEY UPDATE, the lock its UPDATE takes anyway), so that no other
    writer changes it between this read and the write made from it."""
    require(found.access, Access.READ)
    record = session.get(Record, (found.integration.id, check_model(model), record_id),
                         with_for_update={"key_share": True} if for_change else None,
                         populate_existing=for_change)
    if record is None:
        raise RecordNotFound(f"no record {record_id[:256]!r} in model {model!r}")
    return record


def represent(record: Record, names: list[str] | None = None) -> dict[str, Any]:
    data = record.data if not names else {k: v for k, v in record.data.items() if k in names}
    return {"id": record.record_id, "model": record.model, "data": data,
            "updatedAt": record.updated_at.isoformat(), "deleted": record.deleted_at is not None}


def store(session: Session, found: Found, op: str, model: str, *, limit: int = 25,
          offset: int = 0, record_id: str | None = None,
          names: list[str] | None = None) -> dict[str, Any]:
    """``POST .../store``: the list, get and sum operations on one model."""
    require(found.access, Access.READ)
    check_model(model)
    names = _fields(names, "field") if names else None
    if op == "get":
        if not record_id:
            raise errors.ValidationFailed("get needs the record's id",
                                          errors={"id": ["Missing data for required field."]})
        return {"op": op, "model": model,
                "record": represent(get(session, found, model, record_id), names)}
    if op == "sum":
        if not names:
            raise errors.ValidationFailed("sum needs the fields to add",
                                          errors={"fields": ["Missing data for required field."]})
        totals, count = record_sums.sums(session, _scope(found.integration.id, model), names)
        return {"op": op, "model": model, "sums": totals, "count": count}
    rows, total = page(session, found, model, offset, limit)
    return {"op": op, "model": model, "records": [represent(r, names) for r in rows],
            "total": total, "offset": offset, "limit": limit}


# -- writing ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Written:
    """Which ids a write created, changed (a record marked deleted that comes back is
    changed) and marked deleted: counted in answers and sync runs, named in record events."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def by_change(self) -> tuple[tuple[str, list[str]], ...]:
        """(``created`` | ``updated`` | ``deleted``, ids), in that order."""
        return (("created", self.created), ("updated", self.updated),
                ("deleted", self.deleted))


def same_data(one: Any, other: Any) -> bool:
    """Whether two JSON values are the same as stored: ``==``, but with JSON's types apart
    (in Python ``True == 1 == 1.0``; stored, ``true``, ``1`` and ``1.0`` differ). The order
    of an object's members does not count. Iterative: stored data may nest 100 levels."""
    pending = [(one, other)]
    while pending:
        left, right = pending.pop()
        if type(left) is not type(right):
            return False
        if isinstance(left, dict):
            if left.keys() != right.keys():
                return False
            pending.extend((value, right[name]) for name, value in left.items())
        elif isinstance(left, list):
            if len(left) != len(right):
                return False
            pending.extend(zip(left, right, strict=True))
        elif left != right:
            return False
    return True


def existing_rows(session: Session, integration_id: str, model: str,
                  ids: list[str]) -> dict[str, Any]:
    """The records of these ids that exist: id -> (data, deleted_at), one lookup of the
    primary key per id. PostgreSQL gets the ids as an array joined LATERAL, so that its
    planner cannot turn the lookups into a scan of the model: with ``IN (...)`` and no
    statistics yet (a model filled moments ago, as by the batches of an import) it read
    every record of the model for each 500 ids."""
    if session.get_bind().dialect.name == "postgresql":
        wanted = func.unnest(bindparam("ids", ids, type_=ARRAY(String))) \
            .table_valued("record_id").render_derived(name="wanted")
        match = select(Record.record_id, Record.data, Record.deleted_at).where(
            Record.integration_id == integration_id, Record.model == model,
            Record.record_id == wanted.c.record_id).limit(1).lateral("match")
        query = select(match.c.record_id, match.c.data, match.c.deleted_at) \
            .select_from(wanted).join(match, true())
        return {row.record_id: row for row in session.execute(query)}
    found: dict[str, Any] = {}
    for offset in range(0, len(ids), CHUNK):
        chunk = ids[offset:offset + CHUNK]
        found.update((row.record_id, row) for row in session.execute(
            select(Record.record_id, Record.data, Record.deleted_at).where(
                Record.integration_id == integration_id, Record.model == model,
                Record.record_id.in_(chunk))))
    return found


def lock_writers(session: Session, integration_id: str) -> None:
    """One writer of an integration's records at a time (imports, syncs): otherwise two
    could both find an id missing and both insert it, and the second fails on the primary
    key. PostgreSQL: a row lock on the integration until commit, FOR NO KEY UPDATE so that
    rows referencing it can still be inserted; SQLite serialises writers already."""
    session.execute(select(Integration.id).where(Integration.id == integration_id)
                    .with_for_update(key_share=True))


def upsert(session: Session, integration_id: str, model: str, items: Mapping[str, dict],
           now: datetime) -> Written:
    """Insert new ids, update changed or deleted ones; which were created and updated."""
    lock_writers(session, integration_id)
    existing = existing_rows(session, integration_id, model, list(items))
    return _write(session, integration_id, model, items, existing, now)


def replace_model(session: Session, integration_id: str, model: str, items: Mapping[str, dict],
                  now: datetime) -> Written:
    """Make the model hold exactly ``items``: upsert them and mark every other live record
    deleted; which were created, updated and marked deleted."""
    lock_writers(session, integration_id)
    existing = {r.record_id: r for r in session.scalars(select(Record).where(
        Record.integration_id == integration_id, Record.model == model))}
    written = _write(session, integration_id, model, items, existing, now)
    gone = [record_id for record_id, record in existing.items()
            if record_id not in items and record.deleted_at is None]
    for offset in range(0, len(gone), CHUNK):
        session.execute(update(Record).where(
            Record.integration_id == integration_id, Record.model == model,
            Record.record_id.in_(gone[offset:offset + CHUNK])).values(deleted_at=now,
                                                                      updated_at=now))
    return Written(written.created, written.updated, gone)


def _write(session: Session, integration_id: str, model: str, items: Mapping[str, dict],
           existing: Mapping[str, Any], now: datetime) -> Written:
    """``existing``: id -> what has the record's ``data`` and ``deleted_at``."""
    inserts, changes = [], []
    for record_id, data in items.items():
        record = existing.get(record_id)
        if record is None:
            inserts.append({"integration_id": integration_id, "model": model,
                            "record_id": record_id, "data": data, "created_at": now,
                            "updated_at": now})
        elif record.deleted_at is not None or not same_data(record.data, data):
            changes.append({"integration_id": integration_id, "model": model,
                            "record_id": record_id, "data": data, "deleted_at": None,
                            "updated_at": now})
    if inserts:
        session.execute(insert(Record), inserts)
    if changes:
        session.execute(update(Record), changes)
    session.expire_all()
    return Written([row["record_id"] for row in inserts], [row["record_id"] for row in changes])
