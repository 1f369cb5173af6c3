"""User use cases: create, change, delete a user, and sign a user out of every browser.

Each is one function owning its transaction and its audit entry: a view parses the
request, builds the acting principal (``edge.security.current_actor``), calls one of
these and renders the answer. ``precondition`` is the caller's check that the user is
still the version it read (``If-Match``), run inside the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integration_hub.audit.actions import audited
from integration_hub.audit.entries import Actor
from integration_hub.config import current_settings
from integration_hub.db.models import User
from integration_hub.db.session import Precondition, no_precondition, transaction
from integration_hub.identity import deletion, directory
from integration_hub.oauth import revocation as upstream_revocation


def create(actor: Actor, values: Mapping[str, Any]) -> User:
    with audited(actor, "user.create", "user") as action:
        directory.require_superuser(actor.user)
        with transaction() as session:
            user = directory.create_user(session, actor.tenant_id, values)
            action.succeeded(session, user.username, fields=sorted(values))
    return user


def update(actor: Actor, username: str, changes: Mapping[str, Any],
           precondition: Precondition = no_precondition) -> User:
    """Change the given fields; a new password or disabling ends the user's sessions."""
    with audited(actor, "user.update", "user", username) as action, transaction() as session:
        user = directory.get_user(session, actor.tenant_id, username)
        directory.require_superuser(actor.user)
        precondition(user)
        directory.update_user(session, actor.user, user, changes)
        action.succeeded(session, fields=sorted(changes))
    return user


def delete(actor: Actor, username: str, successor: str | None,
           precondition: Precondition = no_precondition) -> deletion.Deletion:
    """Delete the user with every grant they hold; what they own goes to ``successor``.
    Their removed connections' tokens are revoked upstream once the deletion has
    committed: the hub has forgotten them by then, so a slow or failing server can
    neither hold the transaction nor undo it (docs/security.md, "Deleted principals")."""
    with audited(actor, "user.delete", "user", username) as action, transaction() as session:
        user = directory.get_user(session, actor.tenant_id, username)
        directory.require_superuser(actor.user)
        precondition(user)
        removed = deletion.delete_user(session, actor, user, successor)
        action.succeeded(session, **removed.detail)
    upstream_revocation.revoke_all(removed.revocations, current_settings().revocation_deadline)
    return removed


def end_own_sessions(actor: Actor) -> None:
    """Sign the actor out of every browser (API tokens stay valid)."""
    with audited(actor, "user.sign_out_everywhere", "user", actor.username) as action, \
            transaction() as session:
        directory.end_sessions(session, actor.user, actor.user)
        action.succeeded(session)


def end_sessions(actor: Actor, username: str) -> None:
    """Sign a user out of every browser: themselves, or a tenant administrator."""
    with audited(actor, "user.sign_out_everywhere", "user", username) as action, \
            transaction() as session:
        user = directory.get_user(session, actor.tenant_id, username)
        directory.end_sessions(session, actor.user, user)
        action.succeeded(session)
