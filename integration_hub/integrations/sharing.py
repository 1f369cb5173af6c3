"""Shares and ownership: which principals (users, teams) hold an integration."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.db.models import Integration, IntegrationShare, Team, User
from integration_hub.db.models.user import TEAM_PREFIX
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
    integration = found.integration
    existing_principal(session, integration.tenant_id, principal_id)
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
