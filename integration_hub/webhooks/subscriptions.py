"""Webhook subscriptions of a tenant: managed by its administrators, since they
receive events about every integration of the tenant.

A webhook may be narrowed to one integration of the tenant and one records model: that
narrows its record events only (``record.*``), never the others (docs/decisions.md,
"Record events and batching")."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integration_hub import crypto, errors
from integration_hub.config import current_settings
from integration_hub.db.models import Integration, User, Webhook, WebhookDelivery
from integration_hub.db.types import new_uuid, utcnow
from integration_hub.webhooks.events import add_delivery, represent
from integration_hub.webhooks.rules import PING, target_problem, unknown_events

SETTABLE = ("url", "description", "events", "enabled")
# Settable to None as well: None widens to every integration, every model.
NARROWING = ("integration_id", "model")


class WebhookNotFound(errors.NotFound):
    code, title = "webhook_not_found", "No such webhook in this tenant"


class DeliveryNotFound(errors.NotFound):
    code, title = "webhook_delivery_not_found", "No such delivery of this webhook"


class WebhookTargetInvalid(errors.ValidationFailed):
    code, title = "webhook_target_invalid", "The webhook's URL cannot receive deliveries"


def list_page(session: Session, user: User, start: int, limit: int) -> tuple[list[Webhook], int]:
    errors.require_superuser(user)
    query = select(Webhook).where(Webhook.tenant_id == user.tenant_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(session.scalars(query.order_by(Webhook.created_at, Webhook.id)
                                .offset(start).limit(limit))), total


def get(session: Session, user: User, webhook_id: str) -> Webhook:
    errors.require_superuser(user)
    hook = session.get(Webhook, webhook_id)
    if hook is None or hook.tenant_id != user.tenant_id:
        raise WebhookNotFound(f"there is no webhook {webhook_id!r} in this tenant")
    return hook


def create(session: Session, user: User, values: Mapping[str, Any],
           hub_url: str) -> tuple[Webhook, str | None]:
    """Answers the webhook and the secret when the hub generated it (shown this once)."""
    errors.require_superuser(user)
    generated = None if values.get("secret") else secrets.token_urlsafe(32)
    hook = Webhook(id=new_uuid(), tenant_id=user.tenant_id, description="", enabled=True,
                   created_by=user.username, hub_url=hub_url,
                   secret_encrypted=crypto.encrypt(values.get("secret") or generated))
    _apply(session, hook, values)
    session.add(hook)
    session.flush()
    return hook, generated


def update(session: Session, hook: Webhook, changes: Mapping[str, Any], hub_url: str) -> Webhook:
    was_enabled = hook.enabled
    _apply(session, hook, changes)
    if changes.get("secret"):
        hook.secret_encrypted = crypto.encrypt(changes["secret"])
    if hook.enabled and not was_enabled:  # switched on again: start counting afresh
        hook.disabled_reason = hook.disabled_at = hook.failing_since = None
    elif was_enabled and not hook.enabled:
        hook.disabled_at, hook.disabled_reason = utcnow(), None
    hook.hub_url = hub_url
    session.flush()
    return hook


def _apply(session: Session, hook: Webhook, values: Mapping[str, Any]) -> None:
    if values.get("integration_id") is not None:  # before the webhook changes (autoflush)
        _check_integration(session, hook.tenant_id, values["integration_id"])
    for attribute in SETTABLE:
        if attribute in values and values[attribute] is not None:
            setattr(hook, attribute, values[attribute])
    for attribute in NARROWING:
        if attribute in values:
            setattr(hook, attribute, values[attribute])
    if problem := target_problem(hook.url or "", current_settings().proxy_deny_private):
        raise WebhookTargetInvalid(f"url {problem}", errors={"url": [problem]})
    if unknown := unknown_events(hook.events or []):
        raise errors.ValidationFailed(
            "unknown event types: " + ", ".join(unknown),
            errors={"events": [f"unknown event type {name!r}" for name in unknown]})
    if not hook.events:
        raise errors.ValidationFailed("events must name at least one event type (or *)",
                                      errors={"events": ["Shorter than minimum length 1."]})
    hook.events = sorted(set(hook.events))


def _check_integration(session: Session, tenant_id: str, integration_id: str) -> None:
    """The integration must be the tenant's; another tenant's is as unknown as a made-up
    id (nobody learns which ids exist elsewhere)."""
    integration = session.get(Integration, integration_id)
    if integration is None or integration.tenant_id != tenant_id:
        problem = "no such integration in this tenant"
        raise errors.ValidationFailed(f"integration: {problem}",
                                      errors={"integration": [problem]})


def delete(session: Session, hook: Webhook) -> None:
    session.delete(hook)
    session.flush()


def ping(session: Session, user: User, hook: Webhook) -> WebhookDelivery:
    """One attempt, no retries, also for a switched-off webhook; its result does not
    count towards switching the webhook off."""
    data = represent(session, "webhook", hook)
    return add_delivery(session, hook, PING, new_uuid(), utcnow(), data, user.username,
                        max_attempts=1)


def deliveries(session: Session, hook: Webhook, start: int,
               limit: int) -> tuple[list[WebhookDelivery], int]:
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(session.scalars(query.order_by(WebhookDelivery.created_at.desc(),
                                               WebhookDelivery.id.desc())
                                .offset(start).limit(limit))), total


def get_delivery(session: Session, hook: Webhook, delivery_id: str) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.webhook_id != hook.id:
        raise DeliveryNotFound(f"webhook {hook.id} has no delivery {delivery_id!r}")
    return delivery


def delivery_page(session: Session, user: User, webhook_id: str, start: int,
                  limit: int) -> tuple[Webhook, list[WebhookDelivery], int]:
    """The webhook's deliveries, newest first, with the webhook."""
    hook = get(session, user, webhook_id)
    items, total = deliveries(session, hook, start, limit)
    return hook, items, total


def delivery_of(session: Session, user: User, webhook_id: str,
                delivery_id: str) -> WebhookDelivery:
    return get_delivery(session, get(session, user, webhook_id), delivery_id)
