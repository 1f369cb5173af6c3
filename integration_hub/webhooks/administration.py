"""Webhook use cases of a tenant's administrators: subscribe a URL, change or delete a
webhook, ping it.

Webhooks receive events about every integration of the tenant, so they are the tenant's
administrators' to manage, like its settings; the subscriptions and their rules are in
``webhooks.subscriptions``. Each function owns its
transaction and its audit entry. ``hub_url`` is the hub's external base URL as the
request saw it (links in deliveries are made absolute against it); ``precondition`` is
the caller's check that the webhook is still the version it read (``If-Match``), run
inside the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integration_hub.audit.actions import audited
from integration_hub.audit.entries import Actor
from integration_hub.db.models import Webhook, WebhookDelivery
from integration_hub.db.session import Precondition, no_precondition, transaction
from integration_hub.webhooks import subscriptions


def create(actor: Actor, values: Mapping[str, Any], hub_url: str) -> tuple[Webhook, str | None]:
    """Answers the webhook and the secret when the hub generated it (shown this once)."""
    with audited(actor, "webhook.create", "webhook") as action, transaction() as session:
        hook, generated = subscriptions.create(session, actor.user, values, hub_url)
        narrowed = {name: value for name, value in (("integration", hook.integration_id),
                                                    ("model", hook.model)) if value is not None}
        action.succeeded(session, hook.id, url=hook.url, events=hook.events, **narrowed)
    return hook, generated


def update(actor: Actor, webhook_id: str, changes: Mapping[str, Any], hub_url: str,
           precondition: Precondition = no_precondition) -> Webhook:
    with audited(actor, "webhook.update", "webhook", webhook_id) as action, \
            transaction() as session:
        hook = subscriptions.get(session, actor.user, webhook_id)
        precondition(hook)
        subscriptions.update(session, hook, changes, hub_url)
        action.succeeded(session, changed=sorted(changes))
    return hook


def delete(actor: Actor, webhook_id: str, precondition: Precondition = no_precondition) -> None:
    """Delete the webhook with its delivery history."""
    with audited(actor, "webhook.delete", "webhook", webhook_id) as action, \
            transaction() as session:
        hook = subscriptions.get(session, actor.user, webhook_id)
        precondition(hook)
        subscriptions.delete(session, hook)
        action.succeeded(session, url=hook.url)


def ping(actor: Actor, webhook_id: str) -> WebhookDelivery:
    """A ping event now: one attempt, delivered once the transaction has committed."""
    with transaction() as session:
        hook = subscriptions.get(session, actor.user, webhook_id)
        return subscriptions.ping(session, actor.user, hook)

