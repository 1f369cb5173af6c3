"""Writing records through the API: create one or many, replace, merge, delete
(docs/decisions.md, "Records through the API").

Each use case needs write access to the integration, owns its transaction and its audit
entry, and tells the webhooks what changed in that transaction; a write that changes
nothing tells nothing. A record's ``data`` is the object the caller sent, holding an
``id``: a record created here holds its own id there, as an imported line does. A sync
keyed by another field (``idField``) stores the upstream's items as they are, so there
``id`` is the upstream's member: a PUT or PATCH keeps whatever ``id`` the data holds and
refuses only a body sending one that names neither the record nor that.

Writers at the same time: a PUT or PATCH reads its record locked (records.get), so a
merge is never made into data another writer has changed meanwhile. A bulk change also
locks the rows it reads, and takes ``lock_writers`` as imports, syncs and POST do: writers
of many rows run one at a time, so none waits for rows another holds while holding rows
it waits for (a deadlock). A single record's writer holds one row and waits for no other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

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
from integration_hub.webhooks.record_events import IDS_PER_DELIVERY, records_changed

MAX_BATCH = 1000  # records one POST may create
_ABSENT = object()  # a body sending no ``id``


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
        taken = sorted(records.existing_rows(session, found.integration.id, model,
                                             list(items)))
        if taken:
            shown = ", ".join(quote(record_id) for record_id in taken[:5])
            raise RecordExists(f"model {model!r} already holds {len(taken)} of these ids: "
                               f"{shown}", ids=taken[:100])
        now = utcnow()
        stored = list(session.scalars(
            insert(Record).returning(Record, sort_by_parameter_order=True),
            [{"integration_id": found.integration.id, "model": model, "record_id": record_id,
              "data": data, "created_at": now, "updated_at": now}
             for record_id, data in items.items()]))
        records_changed(session, found.integration.tenant_id, found.integration.id, model,
                        "record.created", list(items), actor.username)
        action.succeeded(session, found.integration.id, model=model, records=len(items),
                         **({"recordId": next(iter(items))} if len(items) == 1 else {}))
    for record in stored:
        record.caller_access = found.access
    return Created(found.integration, stored)


def replace(actor: Actor, integration_id: str, model: str, record_id: str,
            body: Any) -> Record:
    """``PUT``: the record's data becomes ``body`` (a record a sync marked deleted is live
    again, as an import of it makes it)."""
    sent_id = body.get("id", _ABSENT) if isinstance(body, dict) else _ABSENT
    return _change(actor, integration_id, model, record_id, lambda _stored: body, sent_id,
                   "replace")


def merge(actor: Actor, integration_id: str, model: str, record_id: str, patch: Any) -> Record:
    """``PATCH``: ``patch`` merged into the data (JSON merge patch, RFC 7396); an ``id``
    it removes is kept."""
    sent_id = _ABSENT
    if isinstance(patch, dict) and patch.get("id") is not None:
        sent_id = patch["id"]
    return _change(actor, integration_id, model, record_id,
                   lambda stored: json_body.merge_patch(stored, patch), sent_id, "merge")


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
    its own PATCH). A patch naming ``id`` is refused: many records cannot take one id.
    The records are read and written ``CHUNK`` at a time, and told as they are written,
    so memory stays bounded however many match; all in the request's one transaction."""
    model = records.check_model(model)
    patch = _object(patch, "")
    if "id" in patch:
        raise RecordInvalid("a bulk change cannot change ids",
                            errors={"id": ["not allowed in a bulk change"]})
    with audited(actor, "record.update", "integration", integration_id) as action, \
            transaction() as session:
        found = integrations.find(session, actor.user, integration_id, Access.WRITE)
        records.lock_writers(session, found.integration.id)
        scope = records.live_matching(found.integration.id, model, where,
                                      session.get_bind().dialect.name)
        now, told = utcnow(), _Telling(session, found, model, "record.updated", actor)
        for chunk in _keyset_chunks(session, scope, Record.record_id, Record.data, lock=True):
            changes = [{"integration_id": found.integration.id, "model": model,
                        "record_id": record_id, "data": json_body.merge_patch(data, patch),
                        "updated_at": now} for record_id, data in chunk]
            changes = [change for change, (_, data) in zip(changes, chunk, strict=True)
                       if not records.same_data(change["data"], data)]
            if changes:
                session.execute(update(Record), changes)
                told.add([change["record_id"] for change in changes])
        told.end()
        action.succeeded(session, found.integration.id, model=model, records=told.count,
                         change="merge", where=where[:256])
    return found.integration, told.count


def delete_where(actor: Actor, integration_id: str, model: str,
                 where: str) -> tuple[Integration, int]:
    """``DELETE .../records/{model}?where=``: every live record ``where`` selects, ``CHUNK``
    at a time by id: each step one statement deleting the selected records within that
    step's ids and answering which (``RETURNING``, for the events), told as it goes."""
    model = records.check_model(model)
    with audited(actor, "record.delete", "integration", integration_id) as action, \
            transaction() as session:
        found = integrations.find(session, actor.user, integration_id, Access.WRITE)
        records.lock_writers(session, found.integration.id)
        scope = records.live_matching(found.integration.id, model, where,
                                      session.get_bind().dialect.name)
        told = _Telling(session, found, model, "record.deleted", actor)
        for chunk in _keyset_chunks(session, scope, Record.record_id):
            told.add(sorted(session.scalars(sql_delete(Record).where(
                *scope, Record.record_id >= chunk[0][0], Record.record_id <= chunk[-1][0])
                .returning(Record.record_id))))
        told.end()
        action.succeeded(session, found.integration.id, model=model, records=told.count,
                         where=where[:256])
    return found.integration, told.count


def _keyset_chunks(session: Session, scope: list, *columns,
                   lock: bool = False) -> Iterator[list[tuple]]:
    """``columns`` (the id first) of the records ``scope`` selects, ``CHUNK`` at a time by
    id: memory stays at a chunk however many match. Rows changed or deleted by an earlier
    chunk are behind the position, so none is read twice. ``lock``: the rows read stay
    locked until the transaction ends (FOR NO KEY UPDATE, the lock an UPDATE takes), so
    no other writer changes one between its read and the write made from it; PostgreSQL
    checks the filter again on a row another writer changed meanwhile."""
    after = None
    while True:
        query = select(*columns).where(*scope)
        if after is not None:
            query = query.where(Record.record_id > after)
        query = query.order_by(Record.record_id).limit(records.CHUNK)
        if lock:
            query = query.with_for_update(key_share=True)
        chunk = [tuple(row) for row in session.execute(query)]
        if not chunk:
            return
        yield chunk
        after = chunk[-1][0]


class _Telling:
    """The ids a bulk change wrote, told as they come in events of ``IDS_PER_DELIVERY``
    (and the rest at the end), so that none waits in memory for the change to end."""

    def __init__(self, session: Session, found: integrations.Found, model: str,
                 event_type: str, actor: Actor) -> None:
        self._tell = lambda ids: records_changed(
            session, found.integration.tenant_id, found.integration.id, model, event_type,
            ids, actor.username)
        self._pending: list[str] = []
        self.count = 0

    def add(self, ids: list[str]) -> None:
        self._pending.extend(ids)
        self.count += len(ids)
        while len(self._pending) >= IDS_PER_DELIVERY:
            self._tell(self._pending[:IDS_PER_DELIVERY])
            del self._pending[:IDS_PER_DELIVERY]

    def end(self) -> None:
        self._tell(self._pending)
        self._pending = []


def _change(actor: Actor, integration_id: str, model: str, record_id: str, new_data,
            sent_id: Any, how: str) -> Record:
    """PUT and PATCH: ``new_data(stored data)`` becomes the record's data; ``sent_id``: the
    ``id`` the body sends (``_ABSENT``: none). Data equal to what a live record holds is
    no change: nothing is written and nothing told (the request is still audited)."""
    model = records.check_model(model)
    with audited(actor, "record.update", "integration", integration_id) as action, \
            transaction() as session:
        found = integrations.find(session, actor.user, integration_id, Access.WRITE)
        record = records.get(session, found, model, record_id, for_change=True)
        data = _kept_id(_object(new_data(record.data), ""), sent_id, record.data, record_id)
        if record.deleted_at is not None or not records.same_data(data, record.data):
            record.data, record.deleted_at, record.updated_at = data, None, utcnow()
            # The ORM compares JSON with ==, to which 1.0 and true are 1: written regardless.
            flag_modified(record, "data")
            session.flush()
            records_changed(session, found.integration.tenant_id, found.integration.id,
                            model, "record.updated", [record_id], actor.username)
        action.succeeded(session, found.integration.id, model=model, recordId=record_id,
                         change=how)
    record.caller_access = found.access
    return record


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
        items[record_id] = data if "id" in data else {"id": record_id, **data}
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


def _kept_id(data: dict[str, Any], sent_id: Any, stored: dict[str, Any],
             record_id: str) -> dict[str, Any]:
    """``data`` keeping an ``id``. One the body sends must name this record (a number
    stays a number, as in imports) or be the one the stored data holds (a sync keyed by
    another field keeps the upstream's ``id``), else it is refused. Data left without one
    keeps the stored data's, or gets the record's id when that held none either."""
    if sent_id is not _ABSENT and not ("id" in stored and records.same_data(sent_id,
                                                                             stored["id"])):
        if _checked_id(sent_id, "") != record_id:
            raise RecordInvalid(
                "the body names another record's id; a record's id cannot change",
                errors={"id": [f"must be {record_id[:256]!r} or absent"]})
    if "id" in data:
        return data
    return {"id": stored["id"] if "id" in stored else record_id, **data}

