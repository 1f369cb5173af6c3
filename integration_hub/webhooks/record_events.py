"""Record events: ``record.created``, ``record.updated`` and ``record.deleted``, told in
batches of record ids.

An import or a sync changes thousands of records at once; one delivery per record would
flood receivers and the delivery queue alike (a sync of 10,000 records would be 10,000
signed requests per webhook). So ``records_changed`` cuts the ids of one change into
events of at most ``IDS_PER_DELIVERY`` ids (fewer when long ids would make a body larger
than ``ID_BYTES_PER_DELIVERY``), and each subscribed webhook gets one delivery per such
event. Like ``events.emit`` it runs inside the transaction that makes the change
(a transactional outbox): a rolled-back change leaves no delivery, and the deliveries
reach the task queue only once it commits.

A payload names the records and links to them; it never carries their data. Webhooks are
the tenant administrators', their receivers are outside the hub, and a record holds
whatever an upstream or a file put in it (personal data, secrets of others): a receiver
that needs the data reads it through the API, with a token whose access decides what it
may see. See docs/decisions.md, "Record events and batching".
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session
from werkzeug.routing import MapAdapter

from integration_hub.config import current_settings
from integration_hub.db.models import Webhook, WebhookDelivery
from integration_hub.db.types import new_uuid, utcnow
from integration_hub.webhooks.events import delivery_body, dispatch_after_commit, links
from integration_hub.webhooks.rules import RECORD_EVENTS, subscribed

# At most this many ids in one delivery: a sync of 10,000 records is 10 deliveries per
# webhook, not 10,000 ...
IDS_PER_DELIVERY = 1000
# ... and at most about this many bytes of them (as JSON), so that a body stays below the
# 1 MB receivers' frameworks commonly accept by default, whatever the ids hold (1,000 ids
# of 256 characters could be 1.5 MB JSON-escaped).
ID_BYTES_PER_DELIVERY = 512 * 1024


def records_changed(session: Session, tenant_id: str, integration_id: str, model: str,
                    event_type: str, record_ids: Sequence[str], actor: str | None) -> None:
    """Tell every enabled webhook of the tenant that subscribes to ``event_type`` (and is
    not narrowed to another integration or model) that these records of ``model`` were
    created, updated or deleted. No ids, no event. Call it in the change's transaction."""
    assert event_type in RECORD_EVENTS, event_type
    ids = list(dict.fromkeys(record_ids))  # each id once, in the order given
    if not ids:
        return
    hooks = _subscribers(session, tenant_id, integration_id, model, event_type)
    if not hooks:
        return
    adapter, now = links(), utcnow()
    events = [(new_uuid(), _data(adapter, integration_id, model, batch))
              for batch in _batches(ids)]
    max_attempts = current_settings().webhook_max_attempts
    for hook in hooks:
        rows = [{"id": new_uuid(), "webhook_id": hook.id, "event_id": event_id,
                 "event_type": event_type, "status": "pending", "attempt_count": 0,
                 "max_attempts": max_attempts, "next_attempt_at": now, "created_at": now,
                 "body": delivery_body(hook, event_type, event_id, now, data, actor)}
                for event_id, data in events]
        session.execute(insert(WebhookDelivery), rows)  # one executemany per webhook
        dispatch_after_commit(session, [row["id"] for row in rows])


def _batches(ids: list[str]) -> Iterator[list[str]]:
    """The ids in order, cut at ``IDS_PER_DELIVERY`` ids or ``ID_BYTES_PER_DELIVERY`` bytes."""
    batch: list[str] = []
    size = 0
    for record_id in ids:
        cost = len(json.dumps(record_id, ensure_ascii=False).encode()) + 1  # and a comma
        if batch and (len(batch) == IDS_PER_DELIVERY or size + cost > ID_BYTES_PER_DELIVERY):
            yield batch
            batch, size = [], 0
        batch.append(record_id)
        size += cost
    if batch:
        yield batch


def _subscribers(session: Session, tenant_id: str, integration_id: str, model: str,
                 event_type: str) -> list[Webhook]:
    query = select(Webhook).where(
        Webhook.tenant_id == tenant_id, Webhook.enabled.is_(True),
        or_(Webhook.integration_id.is_(None), Webhook.integration_id == integration_id),
        or_(Webhook.model.is_(None), Webhook.model == model))
    return [hook for hook in session.scalars(query) if subscribed(hook.events, event_type)]


def _data(adapter: MapAdapter, integration_id: str, model: str,
          ids: list[str]) -> dict[str, Any]:
    """What the receiver is told: which records, with links to read them (relative to the
    neutral base; made absolute per webhook)."""
    event_links = {
        "inf:integration": {"href": adapter.build("integrations.Integration",
                                                  {"integration_id": integration_id})},
        "inf:records": {"href": adapter.build("records.Records",
                                              {"integration_id": integration_id, "model": model})},
    }
    if len(ids) == 1:
        event_links["inf:record"] = {"href": adapter.build(
            "records.Record", {"integration_id": integration_id, "model": model,
                               "record_id": ids[0]})}
    return {"_links": event_links, "integration": integration_id, "model": model,
            "recordIds": ids, "count": len(ids)}
