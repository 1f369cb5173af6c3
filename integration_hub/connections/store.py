"""Connections: the credentials a user (or the shared connection) holds for an
integration, and keeping OAuth tokens fresh exactly once under concurrency."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from integration_hub import crypto, errors
from integration_hub.audit import entries as audit
from integration_hub.audit.entries import Actor
from integration_hub.connections import connect_rules
from integration_hub.connections.connect_rules import IntegrationDisabled, NoConnection, connect_level
from integration_hub.db.models import Connection, Integration, User
from integration_hub.db.models.connection import SHARED_HOLDER
from integration_hub.db.session import end_transaction, writing
from integration_hub.db.types import utcnow
from integration_hub.integrations.acl import Access, require
from integration_hub.integrations.catalogue import catalogue
from integration_hub.integrations.store import Found
from integration_hub.oauth import client as oauth_client
from integration_hub.oauth import rules as oauth_rules
from integration_hub.webhooks import events as webhook_events


def count_for(session: Session, integration: Integration) -> int:
    """How many connections the integration has (deleting it refuses while any are)."""
    return session.scalar(select(func.count()).select_from(Connection)
                          .where(Connection.integration_id == integration.id)) or 0


def holder_for(integration: Integration, user: User) -> str:
    return SHARED_HOLDER if integration.mode == "shared" else user.username


def is_callers(connection: Connection, integration: Integration, user: User) -> bool:
    """The connection the caller's proxied calls use: their own, or the shared one."""
    return connection.holder == holder_for(integration, user)


def require_enabled(integration: Integration) -> None:
    if not integration.enabled:
        raise IntegrationDisabled("the integration is disabled; an administrator can enable it")


def require_connectable(found: Found) -> None:
    """Per-user: reading is enough to connect your own account; shared: write access."""
    require(found.access, connect_level(found.integration))
    require_enabled(found.integration)


def connection_of(session: Session, user: User, integration: Integration) -> Connection | None:
    """The caller's connection (per-user mode) or the shared one."""
    return session.scalars(_CONNECTION_OF, {"integration_id": integration.id,
                                            "holder": holder_for(integration, user)}).first()


_CONNECTION_OF = select(Connection).where(Connection.integration_id == bindparam("integration_id"),
                                          Connection.holder == bindparam("holder"))


@dataclass(frozen=True)
class Ready:
    """No connection is stored and none is needed: the caller's calls send ``credentials``
    (``connect_rules``: nothing at all, or the integration's own)."""

    integration: Integration
    credentials: str
    status = "ready"

    @property
    def integration_id(self) -> str:
        return self.integration.id


def state_of_caller(session: Session, user: User, found: Found) -> Connection | Ready:
    """What ``GET .../connection`` describes: the caller's connection (or the shared one)
    when one is stored, else that none is needed; 404 when the caller needs one."""
    connection = connection_of(session, user, found.integration)
    if connection is not None:
        return connection
    used = connect_rules.credentials_used(found.integration, None)
    if used is None:
        raise NoConnection("connect first", integration=found.integration)
    return Ready(found.integration, used)


def with_account(session: Session, user: User, found: Found) -> Connection:
    """The connection whose account ``GET .../account`` shows."""
    state = state_of_caller(session, user, found)
    if isinstance(state, Ready):
        raise errors.NotFound("calls to this integration need no connection, so no account "
                              "is connected")
    return state


def connections_of_user(session: Session, user: User,
                        integrations: Iterable[Integration]) -> list[Connection]:
    """The caller's own or shared connections to these integrations (one query)."""
    ids = [i.id for i in integrations]
    if not ids:
        return []
    shared = {i.id for i in integrations if i.mode == "shared"}
    rows = session.scalars(select(Connection).where(
        Connection.integration_id.in_(ids),
        Connection.holder.in_([user.username, SHARED_HOLDER])))
    return [c for c in rows if (c.holder == SHARED_HOLDER) == (c.integration_id in shared)]


def connected_integration_ids(session: Session, user: User,
                              integrations: Iterable[Integration]) -> set[str]:
    """Of these integrations, those where the caller has an active connection."""
    return {c.integration_id for c in connections_of_user(session, user, integrations)
            if c.status == "active"}


def list_connections(session: Session, found: Found, start: int,
                     limit: int) -> tuple[list[Connection], int]:
    require(found.access, Access.OWNER)
    query = select(Connection).where(Connection.integration_id == found.integration.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.scalars(query.order_by(Connection.holder).offset(start).limit(limit))
    return list(page), total


def get_listed_connection(session: Session, user: User, found: Found,
                          connection_id: str) -> Connection:
    """One connection of the integration: any for its owner, the caller's own for others
    (the address ``.../connection`` names theirs by, and its ``self``)."""
    connection = session.get(Connection, connection_id)
    if not (connection is not None and is_callers(connection, found.integration, user)):
        require(found.access, Access.OWNER)
    if connection is None or connection.integration_id != found.integration.id:
        raise errors.NotFound("no such connection of this integration")
    return connection


# -- storing credentials -----------------------------------------------------

def _connection_for_update(session: Session, user: User,
                           integration: Integration) -> tuple[Connection, str | None]:
    """The connection to (re)authorise and its status before (None when it is new)."""
    connection = connection_of(session, user, integration)
    before = None if connection is None else connection.status
    if connection is None:
        connection = Connection(integration_id=integration.id,
                                holder=holder_for(integration, user),
                                is_shared=integration.mode == "shared", account={})
        session.add(connection)
    connection.owner_id = user.username
    return connection, before


def _connected(session: Session, actor: Actor, integration: Integration, connection: Connection,
               before: str | None) -> None:
    """Audited every time, here (whoever connects, through the API, a page or the OAuth
    callback). Events: a new connection is created; one that needed attention is
    recovered; re-authorising a working connection is no event."""
    session.flush()
    audit.record(session, actor, "connection.create", "integration", integration.id,
                 {"connectionId": connection.id, "shared": connection.is_shared,
                  "reconnected": before is not None})
    if before is None:
        event = "connection.created"
    elif before != "active":
        event = "connection.recovered"
    else:
        return
    webhook_events.emit(session, integration.tenant_id, event, connection,
                        actor=actor.username)


def store_token(session: Session, actor: Actor, integration: Integration,
                token: Mapping[str, Any], now: datetime | None = None) -> Connection:
    """A fresh authorization of ``actor.user``: replaces whatever the connection held."""
    now = now or utcnow()
    connection, before = _connection_for_update(session, actor.user, integration)
    connection.last_error = apply_token(connection, token, now, keep_refresh_token=False)
    connection.last_authorized_at = now
    connection.status = "active"
    connection.failures = 0
    connection.retry_after = None
    connection.refresh_claim = None  # a refresh under way for the old grant is void
    connection.credentials_encrypted = None
    _connected(session, actor, integration, connection, before)
    return connection


def apply_token(connection: Connection, token: Mapping[str, Any], now: datetime,
                keep_refresh_token: bool) -> dict[str, Any] | None:
    """Store a token answer; answers the ``lastError`` it calls for: a note when its
    lifetime was absurd and clamped (``oauth_rules.lifetime_problem``), else None."""
    if not token.get("access_token"):
        raise oauth_client.TokenEndpointError("malformed", "token_response_invalid",
                                              "the token answer has no access_token")
    connection.access_token_encrypted = crypto.encrypt(str(token["access_token"]))
    if token.get("refresh_token"):
        connection.refresh_token_encrypted = crypto.encrypt(str(token["refresh_token"]))
    elif not keep_refresh_token:
        connection.refresh_token_encrypted = None
    connection.token_type = str(token.get("token_type") or "Bearer")
    if token.get("scope"):
        scope = token["scope"]
        connection.scope = " ".join(scope) if isinstance(scope, list) else str(scope)
    connection.token_expires_at = oauth_rules.expiry(token, now)
    refresh_expiry = oauth_rules.expiry(token, now, "refresh_token_expires_in")
    if refresh_expiry or not keep_refresh_token:
        connection.refresh_token_expires_at = refresh_expiry
    fields = oauth_rules.token_fields(token)
    if fields or not keep_refresh_token:
        connection.token_fields_encrypted = crypto.encrypt(json.dumps(fields)) if fields else None
    problem = oauth_rules.lifetime_problem(token)
    return problem and {"code": LIFETIME_OUT_OF_RANGE, "message": problem, "at": now.isoformat()}


LIFETIME_OUT_OF_RANGE = "token_lifetime_out_of_range"


def store_credentials(session: Session, actor: Actor, integration: Integration,
                      credentials: Mapping[str, Any]) -> Connection:
    """``actor.user``'s own key, token or username and password."""
    connection, before = _connection_for_update(session, actor.user, integration)
    connection.credentials_encrypted = crypto.encrypt(json.dumps(dict(credentials)))
    for column in ("access_token_encrypted", "refresh_token_encrypted", "token_fields_encrypted",
                   "token_expires_at", "refresh_token_expires_at", "retry_after", "last_error"):
        setattr(connection, column, None)
    now = utcnow()
    connection.last_authorized_at = now
    connection.status = "active"
    connection.failures = 0
    _connected(session, actor, integration, connection, before)
    return connection


def credentials_of(connection: Connection | None) -> dict[str, Any]:
    """The user's own key, token or username/password (non-OAuth auth types)."""
    if connection is None or connection.credentials_encrypted is None:
        return {}
    return json.loads(crypto.decrypt(connection.credentials_encrypted))


def token_fields_of(connection: Connection | None) -> dict[str, Any]:
    """The token answer's other fields (``instance_url`` ...), for ``${connection.*}``."""
    if connection is None or connection.token_fields_encrypted is None:
        return {}
    return json.loads(crypto.decrypt(connection.token_fields_encrypted))


def access_token_of(connection: Connection) -> str | None:
    return crypto.decrypt(connection.access_token_encrypted)


def read_account(integration: Integration, token: Mapping[str, Any]) -> dict[str, Any] | None:
    """The connected account from ``userInfoUri`` with a fresh token answer (best effort)."""
    if not token.get("access_token"):
        return None
    profile = oauth_client.userinfo(integration, str(token["access_token"]),
                                    token.get("token_type"))
    if profile is None:
        return None
    provider = catalogue().find(integration.type)
    return oauth_rules.account_from_userinfo(
        profile, provider.spec.get("accountFields") if provider else None)


def attach_account(session: Session, integration: Integration, connection: Connection) -> None:
    """Read the connected account again with the connection's token (best effort; asked
    with no transaction open, then stored in a short one)."""
    end_transaction(session)
    account = read_account(integration, {"access_token": access_token_of(connection),
                                         "token_type": connection.token_type})
    if account is not None:
        with writing(session):
            connection.account = account


def remove(session: Session, actor: Actor, found: Found) -> list[tuple[str, str | None]]:
    """Forget the caller's connection (or the shared one) in the session's transaction;
    answers its tokens (refresh token first) for revoking once that has committed."""
    connection = connection_of(session, actor.user, found.integration)
    if connection is None:
        raise NoConnection("there is no connection to remove", integration=found.integration)
    held = [(hint, crypto.decrypt(getattr(connection, f"{hint}_encrypted")))
            for hint in ("refresh_token", "access_token")]
    webhook_events.emit(session, found.integration.tenant_id, "connection.deleted",
                        connection, actor=actor.username)
    audit.record(session, actor, "connection.delete", "integration", found.integration.id,
                 {"connectionId": connection.id, "shared": connection.is_shared})
    session.delete(connection)
    return held
