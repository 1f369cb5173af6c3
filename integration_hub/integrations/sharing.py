"""Shares and ownership: which principals (users, teams) hold an integration.

The use cases (``share``, ``unshare``, ``transfer``) each own their transaction and audit
entry, as ``lifecycle``'s do; ``precondition`` is the caller's ``If-Match`` check of the
share or ownership as it stood, run inside the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.audit.actions import audited
from integration_hub.audit.entries import Actor
from integration_hub.db.models import Integration, IntegrationShare, Team, User
from integration_hub.db.models.user import TEAM_PREFIX
from integration_hub.db.session import Precondition, no_precondition, transaction
from integration_hub.identity.directory import team_slug
from integration_hub.integrations import store
from integration_hub.integrations.acl import Access, require
from integration_hub.integrations.store import Found
from integration_hub.webhooks import events as webhook_events


class PrincipalNotFound(errors.NotFound):
    code, title = "principal_not_found", "No such user or team in this tenant"


class ShareNotFound(errors.NotFound):
    code, title = "share_not_found", "The integration is not shared with this principal"


@dataclass(frozen=True)
class Principal:
    id: str
    type: str  # "user" or "team"
    name: str | None  # None when the principal no longer exists
    key: str  # username or team slug, for links

    @property
    def exists(self) -> bool:
        return self.name is not None


def principal_kind(principal_id: str) -> tuple[str, str]:
    """``team:eng`` -> ("team", "eng"); ``ada`` -> ("user", "ada")."""
    if principal_id.startswith(TEAM_PREFIX):
        return "team", principal_id[len(TEAM_PREFIX):]
    return "user", principal_id


def describe_principals(session: Session, tenant_id: str, ids: set[str]) -> dict[str, Principal]:
    """Names for many principal ids at once (two queries, whatever their number)."""
    usernames = {key for kind, key in map(principal_kind, ids) if kind == "user"}
    slugs = {key for kind, key in map(principal_kind, ids) if kind == "team"}
    names: dict[str, str] = {}
    if usernames:
        for username, display in session.execute(select(User.username, User.display_name).where(
                User.tenant_id == tenant_id, User.username.in_(usernames))):
            names[username] = display or username
    if slugs:
        for slug, name in session.execute(select(Team.slug, Team.name).where(
                Team.tenant_id == tenant_id, Team.slug.in_(slugs))):
            names[TEAM_PREFIX + slug] = name
    result = {}
    for principal_id in ids:
        kind, key = principal_kind(principal_id)
        result[principal_id] = Principal(principal_id, kind, names.get(principal_id), key)
    return result


@dataclass(frozen=True)
class Ownership:
    """Who owns an integration."""

    integration_id: str
    principal: Principal


def with_principals(session: Session, integration: Integration,
                    shares: Iterable[IntegrationShare]) -> list[IntegrationShare]:
    """The shares, each with its ``principal`` described, in one round of queries."""
    shares = list(shares)
    described = describe_principals(session, integration.tenant_id,
                                    {s.principal_id for s in shares})
    for share in shares:
        share.principal = described[share.principal_id]
    return shares


def existing_principal(session: Session, tenant_id: str, principal_id: str) -> Principal:
    principal = describe_principals(session, tenant_id, {principal_id})[principal_id]
    if not principal.exists:
        raise PrincipalNotFound(f"{principal_id!r} is neither a user nor a team of this tenant")
    return principal


def get_share(found: Found, principal_id: str) -> IntegrationShare:
    share = next((s for s in found.integration.shares if s.principal_id == principal_id), None)
    if share is None:
        raise ShareNotFound(f"the integration is not shared with {principal_id!r}")
    return share


def put_share(session: Session, found: Found, principal_id: str, access_level: int,
              actor: str | None = None) -> tuple[IntegrationShare, bool]:
    """Create or change a share; answers the share and whether it is new."""
    require(found.access, Access.SHARE)
    existing_principal(session, found.integration.tenant_id, principal_id)
    return _granted(session, found.integration, principal_id, access_level, actor)


def _granted(session: Session, integration: Integration, principal_id: str, access_level: int,
             actor: str | None) -> tuple[IntegrationShare, bool]:
    """``put_share`` once the caller may share and the principal is known to be the
    integration's tenant's."""
    share = next((s for s in integration.shares if s.principal_id == principal_id), None)
    created = share is None
    changed = created or share.access_level != access_level
    if created:
        share = IntegrationShare(principal_id=principal_id, access_level=access_level)
        integration.shares.append(share)
    else:
        share.access_level = access_level
    session.flush()
    if changed:
        webhook_events.emit(session, integration.tenant_id,
                            "share.created" if created else "share.updated", share, actor=actor)
    return share, created


def share_with_teams(session: Session, found: Found, teams: Iterable[str],
                     actor: str | None = None) -> list[str]:
    """Read shares for ``teams`` (``team:eng`` or ``eng``), as an integration is registered:
    every one must be a team of the tenant, or nothing is shared (422 on ``teams``).
    Answers their principal ids, each once."""
    principals = list(dict.fromkeys(TEAM_PREFIX + team_slug(team) for team in teams))
    if not principals:
        return []
    known = describe_principals(session, found.integration.tenant_id, set(principals))
    missing = [principal for principal in principals if not known[principal].exists]
    if missing:
        raise errors.ValidationFailed(
            "teams names no team of this tenant: " + ", ".join(missing),
            errors={"teams": [f"{principal!r} is not a team of this tenant"
                              for principal in missing]})
    require(found.access, Access.SHARE)
    for principal in principals:  # each known to exist: checked above, in one query
        _granted(session, found.integration, principal, Access.READ, actor)
    return principals


def delete_share(session: Session, found: Found, principal_id: str,
                 actor: str | None = None) -> None:
    require(found.access, Access.SHARE)
    share = get_share(found, principal_id)
    webhook_events.emit(session, found.integration.tenant_id, "share.deleted", share, actor=actor)
    found.integration.shares.remove(share)
    session.flush()


def owner_of(session: Session, integration: Integration) -> Principal:
    return describe_principals(session, integration.tenant_id,
                               {integration.owner_id})[integration.owner_id]


def transfer_ownership(session: Session, found: Found, principal_id: str,
                       actor: str | None = None) -> Principal:
    """Owner or superuser only: ownership includes deleting, which no share grants."""
    require(found.access, Access.OWNER)
    principal = existing_principal(session, found.integration.tenant_id, principal_id)
    found.integration.owner_id = principal.id
    session.flush()
    webhook_events.emit(session, found.integration.tenant_id, "integration.updated",
                        found.integration, actor=actor)
    return principal


def ownership(session: Session, integration: Integration) -> Ownership:
    return Ownership(integration.id, owner_of(session, integration))


# -- reads -------------------------------------------------------------------

def shares_page(session: Session, user: User, integration_id: str, start: int,
                limit: int) -> tuple[Integration, list[IntegrationShare], int]:
    """A page of the integration's shares with their principals, and how many it has."""
    integration = store.find(session, user, integration_id).integration
    page = with_principals(session, integration, integration.shares[start:start + limit])
    return integration, page, len(integration.shares)


def share_of(session: Session, user: User, integration_id: str,
             principal_id: str) -> IntegrationShare:
    found = store.find(session, user, integration_id)
    return with_principals(session, found.integration, [get_share(found, principal_id)])[0]


def owner(session: Session, user: User, integration_id: str) -> Ownership:
    return ownership(session, store.find(session, user, integration_id).integration)


# -- use cases ---------------------------------------------------------------

def share(actor: Actor, integration_id: str, principal_id: str, access_level: int,
          precondition: Precondition = no_precondition) -> tuple[IntegrationShare, bool]:
    """Share with a user or team, or change their level: the share and whether it is new."""
    with audited(actor, "share.grant", "integration", integration_id) as action, \
            transaction() as session:
        found = store.find(session, actor.user, integration_id)
        existing = next((s for s in found.integration.shares
                         if s.principal_id == principal_id), None)
        if existing is not None:
            precondition(with_principals(session, found.integration, [existing])[0])
        granted, created = put_share(session, found, principal_id, access_level,
                                     actor=actor.username)
        action.succeeded(session, found.integration.id, principalId=principal_id,
                         accessLevel=granted.access_level, created=created)
        with_principals(session, found.integration, [granted])
    return granted, created


def unshare(actor: Actor, integration_id: str, principal_id: str,
            precondition: Precondition = no_precondition) -> None:
    with audited(actor, "share.revoke", "integration", integration_id) as action, \
            transaction() as session:
        found = store.find(session, actor.user, integration_id)
        require(found.access, Access.SHARE)  # before revealing whether the share exists
        existing = get_share(found, principal_id)
        precondition(with_principals(session, found.integration, [existing])[0])
        delete_share(session, found, principal_id, actor=actor.username)
        action.succeeded(session, found.integration.id, principalId=principal_id)


def transfer(actor: Actor, integration_id: str, principal_id: str,
             precondition: Precondition = no_precondition) -> Ownership:
    """Make a user or team the owner (owner or administrator)."""
    with audited(actor, "integration.transfer", "integration", integration_id) as action, \
            transaction() as session:
        found = store.find(session, actor.user, integration_id)
        precondition(ownership(session, found.integration))
        previous = found.integration.owner_id
        principal = transfer_ownership(session, found, principal_id, actor=actor.username)
        action.succeeded(session, found.integration.id, previousOwner=previous,
                         owner=found.integration.owner_id)
    return Ownership(found.integration.id, principal)
