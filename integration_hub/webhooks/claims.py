"""Who may send a delivery now: one claim per attempt, and how many attempts a webhook and
a tenant may have running at once.

A claim is taken with the tenant's row lock held, so claims of one tenant are decided one
at a time on every backend. It has a token (the attempt's, compared when the attempt
settles: an attempt whose claim was taken over cannot settle over its successor) and a
lease, ``claimed_until``: the attempt's deadline (``HUB_WEBHOOK_TIMEOUT``, which starts
before the claim is taken and ends sending) plus ``CLAIM_SLACK`` for the database work
around it. While the lease runs nobody else claims the delivery, and the attempt cannot
outlive it, so a delivery is never sent twice at the same time.

A due delivery whose webhook already has ``HUB_WEBHOOK_RECEIVER_CONCURRENCY`` attempts
running, or whose tenant has ``HUB_WEBHOOK_TENANT_CONCURRENCY``, is not claimed: it is
marked ``waiting`` and its task ends, freeing the worker. An attempt of the tenant that
ends hands the oldest waiting deliveries back to the queue (``waiting``); the minute sweep
sends any left behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from integration_hub.config import Settings
from integration_hub.db.locks import serialise_tenant_writes
from integration_hub.db.models import Webhook, WebhookDelivery
from integration_hub.db.session import writing
from integration_hub.db.types import new_uuid

CLAIM_SLACK = timedelta(seconds=30)
# How many waiting deliveries of a tenant are looked at when a slot frees.
_WAKE_SCAN = 100


@dataclass(frozen=True)
class Claim:
    delivery_id: str
    webhook_id: str
    tenant_id: str
    token: str


def lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.webhook_timeout_seconds) + CLAIM_SLACK


def take(session: Session, delivery_id: str, now: datetime, settings: Settings) -> Claim | None:
    """Claim a due, pending, unclaimed delivery for one attempt. None when it is not due,
    taken, gone, or must wait for a slot (then it is marked ``waiting``)."""
    tenant_id = session.scalar(select(Webhook.tenant_id).join(
        WebhookDelivery, WebhookDelivery.webhook_id == Webhook.id).where(
        WebhookDelivery.id == delivery_id))
    if tenant_id is None:
        session.commit()
        return None
    with writing(session):
        serialise_tenant_writes(session, tenant_id)
        delivery = session.get(WebhookDelivery, delivery_id, populate_existing=True)
        if delivery is None or not claimable(delivery, now):
            return None
        running = list(session.scalars(
            select(WebhookDelivery.webhook_id).join(Webhook).where(
                Webhook.tenant_id == tenant_id, WebhookDelivery.status == "pending",
                WebhookDelivery.claimed_until >= now)))
        if (len(running) >= settings.webhook_tenant_concurrency
                or running.count(delivery.webhook_id) >= settings.webhook_receiver_concurrency):
            delivery.waiting = True
            return None
        token = new_uuid()
        delivery.claim_token, delivery.claimed_until = token, now + lease(settings)
        delivery.waiting = False
    return Claim(delivery_id, delivery.webhook_id, tenant_id, token)


def claimable(delivery: WebhookDelivery, now: datetime) -> bool:
    return (delivery.status == "pending" and delivery.next_attempt_at is not None
            and delivery.next_attempt_at <= now
            and (delivery.claimed_until is None or delivery.claimed_until < now))


def release(session: Session, claim: Claim) -> bool:
    """End the claim if it is still this attempt's (compare and set on its token); False
    when another attempt took the delivery over meanwhile. Inside the caller's transaction."""
    return session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == claim.delivery_id, WebhookDelivery.claim_token == claim.token)
        .values(claim_token=None, claimed_until=None)
        .execution_options(synchronize_session=False)).rowcount == 1


def waiting(session: Session, tenant_id: str, now: datetime, settings: Settings) -> list[str]:
    """The tenant's deliveries that wait for a slot, oldest first, one per webhook, as many
    as the tenant may send at once."""
    rows = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.webhook_id).join(Webhook).where(
            Webhook.tenant_id == tenant_id, WebhookDelivery.waiting.is_(True),
            WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
            WebhookDelivery.claimed_until.is_(None) | (WebhookDelivery.claimed_until < now))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(_WAKE_SCAN)).all()
    session.commit()
    chosen: dict[str, str] = {}
    for delivery_id, webhook_id in rows:
        chosen.setdefault(webhook_id, delivery_id)
        if len(chosen) >= settings.webhook_tenant_concurrency:
            break
    return list(chosen.values())
