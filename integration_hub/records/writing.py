"""Writing records through the API: create one or many, replace, merge, delete
(docs/decisions.md, "Records through the API").

Each use case needs write access to the integration, owns its transaction and its audit
entry, and tells the webhooks what changed in that transaction. A record's ``data`` is the
object the caller sent, and always holds the record's id under ``id``, as an imported
line does: a body naming another id is refused, one naming none gets the record's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from integration_hub import errors, json_body
from integration_hub.audit.actions import audited
from integration_hub.audit.entries import Actor
from integration_hub.db.models import Integration, Record
from integration_hub.db.session import transaction
from integration_hub.db.types import new_uuid, utcnow
from integration_hub.integrations import store as integrations
from integration_hub.integrations.acl import Access
from integration_hub.records import store as records
from integration_hub.records.files import LineError, check_id, quote, unstorable
from integration_hub.webhooks.record_events import records_changed

MAX_BATCH = 1000  # records one POST may create
_CHUNK = 500  # ids per IN (...)


class RecordExists(errors.Conflict):
    code, title = "record_exists", "A record with this id is already stored in the model"


class RecordInvalid(errors.ValidationFailed):
    code, title = "record_invalid", "The record cannot be stored as sent"


@dataclass(frozen=True)
class Created:
    integration: Integration
    records: list[Record]


def create(actor: Actor, integration_id: str, model: str, body: Any) -> Created:
    """``POST .../records/{model}``: one object, or an array of them stored all or nothing.
    An id already in the model (a record a sync marked deleted too) is 409: replacing is
    PUT's."""
    model = records.check_model(model)
    items = _new_items(body)
    with audited(actor, "record.create", "integration", integration_id) as action, \
            transaction() as session:
        found = integrations.find(session, actor.user, integration_id, Access.WRITE)
        records.lock_writers(session, found.integration.id)
        taken = _taken(session, found.integration.id, model, list(items))
        if taken:
            shown = ", ".join(quote(record_id) for record_id in taken[:5])
            raise RecordExists(f"model {model!r} already holds {len(taken)} of these ids: "
                               f"{shown}", ids=taken[:100])
        now = utcnow()
        session.execute(insert(Record), [
            {"integration_id": found.integration.id, "model": model, "record_id": record_id,
             "data": data, "created_at": now, "updated_at": now}
            for record_id, data in items.items()])
        records_changed(session, found.integration.tenant_id, found.integration.id, model,
                        "record.created", list(items), actor.username)
        action.succeeded(session, found.integration.id, model=model, records=len(items),
                         **({"recordId": next(iter(items))} if len(items) == 1 else {}))
        stored = _fetched(session, found, model, list(items))
    return Created(found.integration, stored)


def replace(actor: Actor, integration_id: str, model: str, record_id: str,
            body: Any) -> Record:
    """``PUT``: the record's data becomes ``body`` (a record a sync marked deleted is live
    again, as an import of it makes it)."""
    return _change(actor, integration_id, model, record_id, lambda _stored: body, "replace")


def merge(actor: Actor, integration_id: str, model: str, record_id: str, patch: Any) -> Record:
    """``PATCH``: ``patch`` merged into the data (JSON merge patch, RFC 7396)."""
    return _change(actor, integration_id, model, record_id,
                   lambda stored: json_body.merge_patch(stored, patch), "merge")


def delete(actor: Actor, integration_id: str, model: str, record_id: str) -> None:
    """``DELETE``: the record is removed (not marked deleted: a sync's marks say the
    upstream dropped it; the API's caller asked for it to go). Its lineage stays, as
    lineage may name records that are not stored."""
    model = records.check_model(model)
    with audited(actor, "record.delete", "integration", integration_id) as action, \
            transaction() as session:
        found = integrations.find(session, actor.user, integration_id, Access.WRITE)
        gone = session.execute(sql_delete(Record).where(
            Record.integration_id == found.integration.id, Record.model == model,
            Record.record_id == record_id)).rowcount
        if not gone:
            raise records.RecordNotFound(f"no record {record_id[:256]!r} in model {model!r}")
        records_changed(session, found.integration.tenant_id, found.integration.id, model,
                        "record.deleted", [record_id], actor.username)
        action.succeeded(session, found.integration.id, model=model, recordId=record_id)


def update_where(actor: Actor, integration_id: str, model: str, where: str,
                 patch: Any) -> tuple[Integration, int]:
    """``PATCH .../records/{model}?where=``: ``patch`` merged into the data of every live
    record ``where`` selects (the filter runs in SQL; each record's merge is the same as
    its own PATCH). A patch naming ``id`` is refused: many records cannot take one id."""
    model = records.check_model(model)
    patch = _object(patch, "")
    if "id" in patch:
        raise RecordInvalid("a bulk change cannot change ids",
                            errors={"id": ["not allowed in a bulk change"]})
    with audited(actor, "record.update", "integration", integration_id) as action, \
            transaction() as session:
        found = integrations.find(session, actor.user, integration_id, Access.WRITE)
        scope = records.live_matching(found.integration.id, model, where,
                                      session.get_bind().dialect.name)
        now, changed = utcnow(), []
        for chunk in _keyset_chunks(session, scope):
            changes = [{"integration_id": found.integration.id, "model": model,
                        "record_id": record_id, "data": json_body.merge_patch(data, patch),
                        "updated_at": now} for record_id, data in chunk]
            changes = [change for change, (_, data) in zip(changes, chunk, strict=True)
                       if change["data"] != data]
            if changes:
                session.execute(update(Record), changes)
                changed.extend(change["record_id"] for change in changes)
        records_changed(session, found.integration.tenant_id, found.integration.id, model,
                        "record.updated", changed, actor.username)
        action.succeeded(session, found.integration.id, model=model, records=len(changed),
                         change="merge", where=where[:256])
    return found.integration, len(changed)


def delete_where(actor: Actor, integration_id: str, model: str,
                 where: str) -> tuple[Integration, int]:
    """``DELETE .../records/{model}?where=``: every live record ``where`` selects, in one
    statement that answers their ids (for the events)."""
    model = records.check_model(model)
    with audited(actor, "record.delete", "integration", integration_id) as action, \
            transaction() as session:
        found = integrations.find(session, actor.user, integration_id, Access.WRITE)
        scope = records.live_matching(found.integration.id, model, where,
                                      session.get_bind().dialect.name)
        gone = list(session.scalars(sql_delete(Record).where(*scope)
                                    .returning(Record.record_id)))
        records_changed(session, found.integration.tenant_id, found.integration.id, model,
                        "record.deleted", sorted(gone), actor.username)
        action.succeeded(session, found.integration.id, model=model, records=len(gone),
                         where=where[:256])
    return found.integration, len(gone)


def _keyset_chunks(session: Session, scope: list) -> Iterator[list[tuple[str, Any]]]:
    """(id, data) of the records ``scope`` selects, ``_CHUNK`` at a time by id: memory stays
    at a chunk however many match. Rows changed by an earlier chunk are behind the
    position, so none is read twice."""
    after = None
    while True:
        query = select(Record.record_id, Record.data).where(*scope)
        if after is not None:
            query = query.where(Record.record_id > after)
        chunk = [tuple(row) for row in session.execute(
            query.order_by(Record.record_id).limit(_CHUNK))]
        if not chunk:
            return
        yield chunk
        after = chunk[-1][0]


def _change(actor: Actor, integration_id: str, model: str, record_id: str, new_data,
            how: str) -> Record:
    model = records.check_model(model)
    with audited(actor, "record.update", "integration", integration_id) as action, \
            transaction() as session:
        found = integrations.find(session, actor.user, integration_id, Access.WRITE)
        record = records.get(session, found, model, record_id)
        data = _with_id(_object(new_data(record.data), ""), record_id, "")
        record.data, record.deleted_at, record.updated_at = data, None, utcnow()
        session.flush()
        records_changed(session, found.integration.tenant_id, found.integration.id, model,
                        "record.updated", [record_id], actor.username)
        action.succeeded(session, found.integration.id, model=model, recordId=record_id,
                         change=how)
    record.caller_access = found.access
    return record


def _taken(session: Session, integration_id: str, model: str, ids: list[str]) -> list[str]:
    """Those of ``ids`` the model already holds, live or marked deleted."""
    taken: list[str] = []
    for offset in range(0, len(ids), _CHUNK):
        taken.extend(session.scalars(select(Record.record_id).where(
            Record.integration_id == integration_id, Record.model == model,
            Record.record_id.in_(ids[offset:offset + _CHUNK]))))
    return sorted(taken)


def _fetched(session: Session, found: integrations.Found, model: str,
             ids: list[str]) -> list[Record]:
    """The records just written, in the order of ``ids``, knowing the caller's access."""
    by_id: dict[str, Record] = {}
    for offset in range(0, len(ids), _CHUNK):
        by_id.update((record.record_id, record) for record in session.scalars(
            select(Record).where(Record.integration_id == found.integration.id,
                                 Record.model == model,
                                 Record.record_id.in_(ids[offset:offset + _CHUNK]))))
    for record in by_id.values():
        record.caller_access = found.access
    return [by_id[record_id] for record_id in ids]


# -- the bodies ---------------------------------------------------------------------------------

def _new_items(body: Any) -> dict[str, dict[str, Any]]:
    """id -> data of the records a POST body creates, checked: one object or an array of
    1 to ``MAX_BATCH`` objects with distinct ids."""
    if isinstance(body, list):
        if not body or len(body) > MAX_BATCH:
            raise RecordInvalid(f"send 1 to {MAX_BATCH} records in an array",
                                errors={"_schema": [f"1 to {MAX_BATCH} records"]})
        prefixes = [f"{index}." for index in range(len(body))]
    else:
        body, prefixes = [body], [""]
    items: dict[str, dict[str, Any]] = {}
    for item, prefix in zip(body, prefixes, strict=True):
        data = _object(item, prefix)
        record_id = _checked_id(data["id"], prefix) if "id" in data else new_uuid()
        if record_id in items:
            raise RecordInvalid(f"the id {quote(record_id)} is sent twice",
                                errors={f"{prefix}id": ["sent twice in this request"]})
        items[record_id] = _with_id(data, record_id, prefix)
    return items


def _object(data: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        where = prefix.rstrip(".") or "_schema"
        raise RecordInvalid("a record is a JSON object", errors={where: ["must be an object"]})
    if (problem := unstorable(data)) is not None:
        raise RecordInvalid(f"the record cannot be stored: {problem}",
                            errors={prefix.rstrip(".") or "_schema": [problem]})
    return data


def _checked_id(value: Any, prefix: str) -> str:
    checked = check_id(0, value)
    if isinstance(checked, LineError):
        raise RecordInvalid(checked.message, errors={f"{prefix}id": [checked.message]})
    return checked


def _with_id(data: Mapping[str, Any], record_id: str, prefix: str) -> dict[str, Any]:
    """``data`` holding the record's id under ``id``: its own (a number stays a number, as
    in imports) when it names this record, else refused."""
    if "id" not in data:
        return {"id": record_id, **data}
    if _checked_id(data["id"], prefix) != record_id:
        raise RecordInvalid("the body names another record's id; a record's id cannot change",
                            errors={f"{prefix}id": [f"must be {record_id[:256]!r} or absent"]})
    return dict(data)

