"""Test data made through the hub's own services, so it is valid by construction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from integration_hub.db.models import Integration, IntegrationShare, Team, User
from integration_hub.identity import directory as identity
from integration_hub.identity import tokens
from integration_hub.integrations import store as integrations


def user(session: Session, username: str, tenant: str = "default", **values) -> User:
    identity.ensure_tenant(session, tenant)
    return identity.create_user(session, tenant, {"username": username, **values})


def token(session: Session, owner: User, name: str = "test", **kwargs) -> str:
    return tokens.issue_token(session, owner, name, **kwargs).plain


def team(session: Session, slug: str, tenant: str = "default", members=(), **values) -> Team:
    identity.ensure_tenant(session, tenant)
    return identity.create_team(session, tenant, {
        "id": slug, "name": values.pop("name", slug.title()),
        "members": [{"username": m} if isinstance(m, str) else m for m in members], **values})


def integration(session: Session, owner: User, name: str = "Example API", **values) -> Integration:
    """An integration created through the service, as ``owner`` (who needs create rights).

    Secrets given here (clientSecret ...) are encrypted by the service, so an
    app context must be active (the ``app`` fixture's context is, via ``session``).
    """
    values = {"name": name, "type": "custom", "auth_type": "apikey",
              "api_base_uri": "https://api.example.com/v1", **values}
    return integrations.create(session, owner, values)


def share(session: Session, target: Integration, principal_id: str, level: int = 1) -> None:
    target.shares.append(IntegrationShare(principal_id=principal_id, access_level=level))
    session.flush()
