"""Connection use cases: connect without a browser, refresh, disconnect, and reading an
integration's connections and the connected account.

Each is one function: a view or page parses the request, builds the acting principal
(``edge.security.current_actor``), calls one of these and renders what it answers.
Whatever the hub asks other servers (a token endpoint, the connected account, a health
check, a revocation endpoint) it asks with no transaction open (docs/security.md, "The
hub's database while it waits").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from integration_hub.audit.actions import audited
from integration_hub.audit.entries import Actor
from integration_hub.config import current_settings
from integration_hub.connections import programmatic
from integration_hub.connections import store as connections
from integration_hub.connections.connect_rules import NotConnected
from integration_hub.db.models import Connection, Integration, User
from integration_hub.db.session import db_session, writing
from integration_hub.db.types import utcnow
from integration_hub.integrations import store as integrations
from integration_hub.oauth import client as oauth_client
from integration_hub.oauth import refresh as token_refresh


def refresh_skew() -> timedelta:
    """How long before its expiry an access token counts as expired."""
    return timedelta(seconds=current_settings().token_refresh_skew)


def connect(actor: Actor, integration_id: str, body: Mapping[str, Any], *,
            callback_uri: str) -> Connection:
    """Hand over a code, token, key or password (per auth type): ``POST .../connect`` or
    the start page's form. The success is audited where the connection is stored
    (``store._connected``, which the OAuth callback reaches too)."""
    with audited(actor, "connection.create", "integration", integration_id):
        session = db_session()
        found = integrations.find(session, actor.user, integration_id)
        return programmatic.connect_with(session, actor, found, body, callback_uri=callback_uri)


def disconnect(actor: Actor, integration_id: str) -> None:
    """Forget the credentials (committed first), then revoke them at the provider (best
    effort): no transaction waits for the revocation endpoint."""
    with audited(actor, "connection.delete", "integration", integration_id):
        session = db_session()
        found = integrations.find(session, actor.user, integration_id)
        connections.require_connectable(found)
        with writing(session):
            held = connections.remove(session, actor, found)
    for hint, token in held:  # the refresh token first: revoking it usually ends both
        if token and oauth_client.revoke(found.integration, token, hint):
            break


def refresh(actor: Actor, integration_id: str) -> Connection:
    """Refresh the caller's OAuth token now, whatever its expiry."""
    session = db_session()
    found = integrations.find(session, actor.user, integration_id)
    connections.require_connectable(found)
    connection = connections.connection_of(session, actor.user, found.integration)
    if connection is None or connection.access_token_encrypted is None:
        raise NotConnected("there is no OAuth connection to refresh",
                           integration=found.integration)
    return token_refresh.refresh_if_needed(session, found.integration, connection,
                                           refresh_skew(), force_after=utcnow())


# -- reading ------------------------------------------------------------------------------------

def caller_state(session: Session, user: User, integration_id: str) -> Connection | connections.Ready:
    """``GET .../connection``: the caller's connection, or that none is needed."""
    return connections.state_of_caller(session, user,
                                        integrations.find(session, user, integration_id))


def account(session: Session, user: User, integration_id: str, refresh_now: bool) -> Connection:
    """The connection whose account ``GET .../account`` shows; ``refresh_now`` reads the
    account again from the provider (with a fresh token) first."""
    found = integrations.find(session, user, integration_id)
    integration = found.integration
    if not (refresh_now and integration.auth_type == "oauth2"):
        return connections.with_account(session, user, found)
    connection = token_refresh.usable_token_connection(session, user, integration,
                                                       refresh_skew())
    connections.attach_account(session, integration, connection)
    return connection


def page(session: Session, user: User, integration_id: str, start: int,
         limit: int) -> tuple[Integration, list[Connection], int]:
    """Every connection of the integration (owner or administrator), with the integration
    (its id names the page, whatever slug the caller used)."""
    found = integrations.find(session, user, integration_id)
    items, total = connections.list_connections(session, found, start, limit)
    return found.integration, items, total


def listed(session: Session, user: User, integration_id: str, connection_id: str) -> Connection:
    found = integrations.find(session, user, integration_id)
    return connections.get_listed_connection(session, user, found, connection_id)
