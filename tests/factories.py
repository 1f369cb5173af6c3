"""Test data made through the hub's own services, so it is valid by construction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from integration_hub.db.models import Team, User
from integration_hub.services import identity, tokens


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
