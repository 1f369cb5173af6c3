"""API token use cases: create a token, revoke one with the tokens made from it.

Each owns its transaction and its audit entry; the rules of issuing, lineage and scopes
are in ``tokens``. ``precondition`` is the caller's check that the token is still the
version it read (``If-Match``), run inside the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integration_hub.audit.actions import audited
from integration_hub.audit.entries import Actor
from integration_hub.db.session import Precondition, no_precondition, transaction
from integration_hub.identity import tokens


def create(actor: Actor, values: Mapping[str, Any], parent_id: str | None) -> tokens.IssuedToken:
    """A token of the actor's; ``parent_id`` names the token the call came with, if any:
    the new one is its child (no broader, expiring no later, revoked with it)."""
    with audited(actor, "token.create", "token") as action, transaction() as session:
        issued = tokens.issue_token(session, actor.user, values.get("name", ""),
                                    values.get("expires_at"), scopes=values.get("scopes"),
                                    parent_id=parent_id)
        record = issued.record
        action.succeeded(session, record.id, name=record.name, prefix=record.prefix,
                         scopes=record.scopes, parentId=record.parent_id)
    return issued


def revoke(actor: Actor, token_id: str, precondition: Precondition = no_precondition) -> int:
    """Revoke the token and every token made from it, down the line; answers how many of
    those there were."""
    with audited(actor, "token.delete", "token", token_id) as action, transaction() as session:
        precondition(tokens.get_token(session, actor.user, token_id))
        descendants = tokens.revoke_token(session, actor.user, token_id)
        action.succeeded(session, descendants=descendants)
    return descendants
