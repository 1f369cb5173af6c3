"""Integration use cases: register one (or a copy of another), change it, delete it.

Each is one function owning its transaction and its audit entry; the rules it applies and
the event it emits are ``store``'s. A view parses the request, builds the acting
principal (``edge.security.current_actor``), calls one of these and renders the answer.
``precondition`` is the caller's check that the integration is still the version it read
(``If-Match``), run inside the transaction before the change's own checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integration_hub.audit.actions import audited
from integration_hub.audit.entries import Actor
from integration_hub.db.models import Integration
from integration_hub.db.session import Precondition, no_precondition, transaction
from integration_hub.integrations import sharing, store
from integration_hub.integrations.acl import Access


def register(actor: Actor, values: Mapping[str, Any]) -> Integration:
    """A new integration the actor owns; a copy of another when ``values`` names one in
    ``copy_from``; shared for reading with the ``teams`` it names, in the same transaction."""
    with audited(actor, "integration.create", "integration") as action, \
            transaction() as session:
        integration = store.create(session, actor.user, values)
        teams = sharing.share_with_teams(session, store.Found(integration, Access.OWNER),
                                         values.get("teams") or (), actor.username)
        action.succeeded(session, integration.id, name=integration.name, type=integration.type,
                         fields=sorted(values), **({"teams": teams} if teams else {}))
    return integration


def update(actor: Actor, integration_id: str, changes: Mapping[str, Any],
           precondition: Precondition = no_precondition, merge: bool = False) -> Integration:
    """Change an integration (by id or slug): omitted fields keep their value. With
    ``merge`` (a PATCH), ``data`` and ``headers`` are merged into the stored ones."""
    with audited(actor, "integration.update", "integration", integration_id) as action, \
            transaction() as session:
        found = store.find(session, actor.user, integration_id)
        precondition(found.integration)
        if merge:
            changes = store.patched(found.integration, changes)
        integration = store.update(session, actor.user, found, changes)
        action.succeeded(session, integration.id, fields=sorted(changes))
    return integration


def delete(actor: Actor, integration_id: str, force: bool = False,
           precondition: Precondition = no_precondition) -> None:
    """Delete an integration; ``force`` also removes what still depends on it."""
    with audited(actor, "integration.delete", "integration", integration_id) as action, \
            transaction() as session:
        found = store.find(session, actor.user, integration_id)
        precondition(found.integration)
        store.delete(session, actor.user, found, force=force)
        action.succeeded(session, found.integration.id, name=found.integration.name,
                         forced=force)
