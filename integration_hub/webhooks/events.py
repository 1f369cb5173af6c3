"""Events: a change told to the tenant's webhooks, once the change is committed.

``emit`` runs inside the transaction that makes the change and adds one delivery
row per subscribed webhook to it (a transactional outbox): a rolled-back change
leaves no delivery behind, a committed one cannot lose its deliveries. When the
session commits, the deliveries are handed to the task queue; a worker's minute
sweep picks up any the queue never got (see ``webhook_delivery.sweep``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from werkzeug.routing import MapAdapter

from integration_hub.config import current_settings
from integration_hub.db.models import Webhook, WebhookDelivery
from integration_hub.db.types import new_uuid, utcnow
from integration_hub.webhooks.rules import EVENT_TYPES, absolute_links, subscribed

log = logging.getLogger(__name__)
# Set by the task queue: hands a committed delivery id to a worker.
DISPATCH_EXTENSION = "integration_hub.webhook_dispatch"
_PENDING = "integration_hub.pending_deliveries"
_REPRESENTATIONS = "integration_hub.webhook_representations"
# Links are built against a neutral base (http://hub.invalid/), then joined to each
# webhook's hub URL: a payload is the same whichever request or worker made the change.
_NEUTRAL_HOST, _NEUTRAL_SCHEME = "hub.invalid", "http"

# A subject's HAL representation, its links built with the URL adapter given.
Representation = Callable[[Session, Any, MapAdapter], dict[str, Any]]


@dataclass(frozen=True)
class _Representations:
    by_kind: Mapping[str, Representation]
    links: MapAdapter


def init_app(app: Flask, representations: Mapping[str, Representation]) -> None:
    """Take the representation of each kind of subject ("integration", "share",
    "connection", "sync", "webhook"): the API's schemas, so a payload is what a GET of the
    resource answers. The app factory hands them over (app.py)."""
    app.extensions[_REPRESENTATIONS] = _Representations(
        dict(representations), app.url_map.bind(_NEUTRAL_HOST, url_scheme=_NEUTRAL_SCHEME))


def emit(session: Session, tenant_id: str, event_type: str, subject: Any,
         actor: str | None = None) -> None:
    """Queue ``event_type`` about ``subject`` for every enabled webhook of the tenant
    that subscribes to it. Call it before deleting the subject (it is represented)."""
    assert event_type in EVENT_TYPES, event_type
    hooks = [hook for hook in session.scalars(select(Webhook).where(
        Webhook.tenant_id == tenant_id, Webhook.enabled.is_(True)))
        if subscribed(hook.events, event_type)]
    if not hooks:
        return
    data = represent(session, event_type.split(".", 1)[0], subject)
    event_id, now = new_uuid(), utcnow()
    for hook in hooks:
        add_delivery(session, hook, event_type, event_id, now, data, actor,
                     current_settings().webhook_max_attempts)


def represent(session: Session, kind: str, subject: Any) -> dict[str, Any]:
    """The subject's HAL representation, links relative to the neutral base."""
    representations: _Representations = current_app.extensions[_REPRESENTATIONS]
    return representations.by_kind[kind](session, subject, representations.links)


def links() -> MapAdapter:
    """The URL adapter payload links are built with (neutral base, see above)."""
    representations: _Representations = current_app.extensions[_REPRESENTATIONS]
    return representations.links


def delivery_body(hook: Webhook, event_type: str, event_id: str, now: datetime,
                  data: dict[str, Any], actor: str | None) -> str:
    """The exact JSON a delivery sends (and signs), its links made absolute for ``hook``."""
    return json.dumps({"id": event_id, "type": event_type,
                       "occurredAt": now.isoformat().replace("+00:00", "Z"),
                       "tenant": hook.tenant_id, "actor": actor,
                       "data": absolute_links(data, hook.hub_url)},
                      separators=(",", ":"), ensure_ascii=False)


def add_delivery(session: Session, hook: Webhook, event_type: str, event_id: str, now: datetime,
                 data: dict[str, Any], actor: str | None, max_attempts: int) -> WebhookDelivery:
    body = delivery_body(hook, event_type, event_id, now, data, actor)
    delivery = WebhookDelivery(webhook_id=hook.id, event_id=event_id, event_type=event_type,
                               body=body, status="pending", attempt_count=0,
                               max_attempts=max_attempts, next_attempt_at=now, created_at=now)
    session.add(delivery)
    session.flush()
    dispatch_after_commit(session, [delivery.id])
    return delivery


def dispatch_after_commit(session: Session, delivery_ids: list[str]) -> None:
    """Hand these deliveries to the task queue once the session commits (none if it
    rolls back)."""
    pending = session.info.setdefault(_PENDING, [])
    if not pending and not event.contains(session, "after_commit", _committed):
        event.listen(session, "after_commit", _committed)
        event.listen(session, "after_rollback", _rolled_back)
    pending.extend(delivery_ids)


def _committed(session: Session) -> None:
    dispatch(session.info.pop(_PENDING, []))


def dispatch(delivery_ids: list[str]) -> None:
    """Hand committed deliveries to the task queue; when it is not reachable, the sweep
    sends them once it is back."""
    send = current_app.extensions.get(DISPATCH_EXTENSION) if has_app_context() else None
    if not delivery_ids or send is None:
        return
    try:
        for delivery_id in delivery_ids:
            send(delivery_id)
    except Exception:  # noqa: BLE001
        log.warning("the task queue is not reachable; %d webhook deliveries wait for the sweep",
                    len(delivery_ids))


def _rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
