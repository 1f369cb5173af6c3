"""Deleting a user or team: every grant naming it goes with it, what it owns goes to a
named successor, and its id is retired so it never names anyone else
(docs/security.md, "Deleted principals").

One transaction removes the principal's shares, per-user connections, API tokens,
browser sessions, pending OAuth flows and team memberships, hands its integrations
over and retires its id. Revoking the removed connections' tokens upstream is left to
the use case, after the commit (``Deletion.revocations``, identity/users.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.audit import entries as audit
from integration_hub.audit.entries import Actor
from integration_hub.connections.connect_rules import uses_oauth
from integration_hub.db.locks import serialise_tenant_writes
from integration_hub.db.models import (
    ApiToken,
    Connection,
    Integration,
    IntegrationShare,
    OAuthState,
    RetiredPrincipal,
    Team,
    User,
)
from integration_hub.db.types import utcnow
from integration_hub.identity import browser_sessions
from integration_hub.identity.directory import CannotDeleteSelf, TeamNotFound, UserNotFound, require_superuser
from integration_hub.integrations.sharing import Principal, describe_principals
from integration_hub.oauth.revocation import Revocation, planned
from integration_hub.webhooks import events as webhook_events

LISTED = 100  # owned integrations a refusal names (it counts them all)


class OwnsIntegrations(errors.Conflict):
    code, title = "principal_owns_integrations", "The user or team still owns integrations"

    def __init__(self, detail: str, owned: list[Integration], total: int) -> None:
        super().__init__(detail, total=total)
        self.owned = [(integration.id, integration.name) for integration in owned]


@dataclass
class Deletion:
    """What a deletion did: for its audit entry, and the revocations still to run."""

    principal_id: str
    successor: str | None
    transferred: list[str] = field(default_factory=list)  # integration ids
    removed: dict[str, int] = field(default_factory=dict)
    revocations: list[Revocation] = field(default_factory=list)

    @property
    def detail(self) -> dict:
        return {"successor": self.successor, "transferred": len(self.transferred),
                "removed": self.removed}


def delete_user(session: Session, actor: Actor, user: User, successor: str | None) -> Deletion:
    """Delete ``user`` with every grant they hold (administrators; never oneself)."""
    require_superuser(actor.user)
    if user.id == actor.user.id:
        raise CannotDeleteSelf()
    serialise_tenant_writes(session, user.tenant_id)
    if session.scalar(select(User.id).where(User.id == user.id)) is None:
        raise UserNotFound(f"user {user.username!r} does not exist")  # deleted meanwhile
    deletion = _start(session, actor, user.tenant_id, user.principal_id, successor)
    deletion.removed["connections"] = _remove_connections(session, actor, user, deletion)
    deletion.removed["apiTokens"] = session.execute(
        delete(ApiToken).where(ApiToken.user_id == user.id)).rowcount
    deletion.removed["browserSessions"] = browser_sessions.end_all(session, user)
    deletion.removed["oauthFlows"] = session.execute(
        delete(OAuthState).where(OAuthState.user_id == user.id)).rowcount
    deletion.removed["memberships"] = len(user.memberships)
    _retire(session, user.tenant_id, user.principal_id, "user")
    session.delete(user)
    session.flush()
    return deletion


def delete_team(session: Session, actor: Actor, team: Team, successor: str | None) -> Deletion:
    """Delete ``team`` with its shares and memberships (administrators)."""
    require_superuser(actor.user)
    serialise_tenant_writes(session, team.tenant_id)
    if session.scalar(select(Team.id).where(Team.id == team.id)) is None:
        raise TeamNotFound(f"team {team.principal_id!r} does not exist")  # deleted meanwhile
    deletion = _start(session, actor, team.tenant_id, team.principal_id, successor)
    deletion.removed["memberships"] = len(team.members)
    _retire(session, team.tenant_id, team.principal_id, "team")
    session.delete(team)
    session.flush()
    return deletion


def _start(session: Session, actor: Actor, tenant_id: str, principal_id: str,
           successor_id: str | None) -> Deletion:
    """What every deletion does first: refuse, or hand over what the principal owns; then
    remove the shares granted to it."""
    successor = _successor(session, tenant_id, principal_id, successor_id)
    owned = session.scalars(select(Integration).where(
        Integration.tenant_id == tenant_id, Integration.owner_id == principal_id)
        .order_by(Integration.name, Integration.id)).all()
    if owned and successor is None:
        raise OwnsIntegrations(
            f"{principal_id!r} owns {len(owned)} integration(s); name a successor "
            "(?successor=<principalId>) or transfer them first", owned[:LISTED], len(owned))
    deletion = Deletion(principal_id, successor.id if successor else None)
    for integration in owned:
        integration.owner_id = successor.id
        session.flush()
        webhook_events.emit(session, tenant_id, "integration.updated", integration,
                            actor=actor.username)
        audit.record(session, actor, "integration.transfer", "integration",
                     integration.id, {"previousOwner": principal_id, "owner": successor.id,
                                      "reason": "principal deleted"})
        deletion.transferred.append(integration.id)
    deletion.removed["shares"] = _remove_shares(session, actor, tenant_id, principal_id)
    return deletion


def _successor(session: Session, tenant_id: str, principal_id: str,
               successor_id: str | None) -> Principal | None:
    if successor_id is None:
        return None
    if successor_id == principal_id:
        raise _invalid_successor("must be another user or team than the one deleted")
    found = describe_principals(session, tenant_id, {successor_id})[successor_id]
    if not found.exists:
        raise _invalid_successor(f"{successor_id!r} is neither a user nor a team of this tenant")
    return found


def _invalid_successor(message: str) -> errors.ValidationFailed:
    return errors.ValidationFailed(f"successor: {message}", errors={"successor": [message]})


def _remove_shares(session: Session, actor: Actor, tenant_id: str, principal_id: str) -> int:
    shares = session.scalars(select(IntegrationShare).join(IntegrationShare.integration).where(
        Integration.tenant_id == tenant_id, IntegrationShare.principal_id == principal_id)).all()
    for share in shares:
        webhook_events.emit(session, tenant_id, "share.deleted", share, actor=actor.username)
        share.integration.shares.remove(share)
    session.flush()
    return len(shares)


def _remove_connections(session: Session, actor: Actor, user: User, deletion: Deletion) -> int:
    """The user's own connections (not the shared ones: those serve everyone, see
    docs/decisions.md, "Deleting users and teams"), each planned for revocation."""
    rows = session.execute(select(Connection, Integration).join(Connection.integration).where(
        Integration.tenant_id == user.tenant_id, Connection.holder == user.username)).all()
    for connection, integration in rows:
        if uses_oauth(integration) and (plan := planned(integration, connection)):
            deletion.revocations.append(plan)
        webhook_events.emit(session, user.tenant_id, "connection.deleted", connection,
                            actor=actor.username)
        session.delete(connection)
    session.flush()
    return len(rows)


def _retire(session: Session, tenant_id: str, principal_id: str, kind: str) -> None:
    session.add(RetiredPrincipal(tenant_id=tenant_id, principal_id=principal_id, kind=kind,
                                 retired_at=utcnow()))
