"""Demo data for trying the hub offline: an administrator, two users, a team, a
token, and integrations of several auth types shared with the team.

Seeding is idempotent. The administrator's password and token are generated
once and kept in the instance folder (development only), so every run prints
the same, working credentials.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_hub.config import Settings
from integration_hub.db.models import ApiToken, IntegrationShare, Team, User
from integration_hub.services import identity, integrations, tokens

ADMIN = "admin"
DEMO_USERS = (
    {"username": "alice", "display_name": "Alice Example", "email": "alice@example.com",
     "fields": {"region": "eu", "department": "engineering"}},
    {"username": "bob", "display_name": "Bob Example", "email": "bob@example.com",
     "fields": {"region": "us", "department": "sales"}},
)
# Shared with the demo team; the built-in echo upstream and test provider of
# development mode replace these example endpoints once they exist.
DEMO_INTEGRATIONS = (
    ({"slug": "github", "name": "GitHub", "type": "github", "category": "development",
      "description": "Per-user OAuth2 connection to GitHub (register your own OAuth app to use it)",
      "auth_type": "oauth2", "auth_uri": "https://github.com/login/oauth/authorize",
      "token_uri": "https://github.com/login/oauth/access_token",
      "api_base_uri": "https://api.github.com", "user_info_uri": "https://api.github.com/user",
      "client_id": "replace-with-your-client-id", "scope": "read:user",
      "headers": {"Accept": "application/vnd.github+json"}}, 1),
    ({"slug": "openai", "name": "OpenAI", "type": "openai", "category": "ai",
      "description": "Bearer-token API; each user connects their own key",
      "auth_type": "bearer", "api_base_uri": "https://api.openai.com/v1"}, 1),
    ({"slug": "inventory-api", "name": "Inventory API", "type": "custom", "category": "internal",
      "description": "Shared API key; the caller's identity travels in headers",
      "auth_type": "apikey", "mode": "shared", "api_base_uri": "https://inventory.example.com/v2",
      "api_key_name": "X-API-Key", "api_key": "demo-inventory-key",
      "headers": {"X-User-Email": "${user.email}", "X-Region": "${user.region:-eu}"}}, 2),
)
DEMO_TEAM = {"id": "team:demo", "name": "Demo team",
             "description": "Everyone trying the demo", "members": [
                 {"username": "alice", "role": "admin"}, {"username": "bob", "role": "member"}]}


@dataclass(frozen=True)
class DemoResult:
    admin_password: str
    admin_token: str


def _kept_secret(instance: Path, name: str, make) -> str:
    path = instance / name
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def seed(session: Session, settings: Settings) -> DemoResult:
    tenant_id = settings.default_tenant
    identity.ensure_tenant(session, tenant_id, "Default tenant" if tenant_id == "default" else None)
    password = _kept_secret(settings.instance_path, "demo-admin-password",
                            lambda: secrets.token_urlsafe(12))
    admin = _ensure_user(session, tenant_id, {
        "username": ADMIN, "display_name": "Demo administrator", "email": "admin@example.com",
        "superuser": True, "password": password})
    for values in DEMO_USERS:
        _ensure_user(session, tenant_id, {**values, "password": password})
    if session.scalars(select(Team.id).where(Team.tenant_id == tenant_id,
                                             Team.slug == "demo")).first() is None:
        identity.create_team(session, tenant_id, DEMO_TEAM)
    for values, level in DEMO_INTEGRATIONS:
        if integrations.lookup(session, tenant_id, values["slug"]) is None:
            created = integrations.create(session, admin, values)
            created.shares.append(IntegrationShare(principal_id=DEMO_TEAM["id"], access_level=level))

    plain = _kept_secret(settings.instance_path, "demo-admin-token", tokens.generate_token)
    known = session.scalars(select(ApiToken).where(
        ApiToken.token_hash == tokens.hash_token(plain))).first()
    if known is None or known.user_id != admin.id:
        if known is not None:
            session.delete(known)
            session.flush()
        tokens.issue_token(session, admin, "demo", plain=plain)
    return DemoResult(password, plain)


def _ensure_user(session: Session, tenant_id: str, values: dict) -> User:
    user = session.scalars(select(User).where(User.tenant_id == tenant_id,
                                              User.username == values["username"])).first()
    if user is None:
        return identity.create_user(session, tenant_id, values)
    return user


def instructions(result: DemoResult, bind: str) -> str:
    base = f"http://{bind}"
    return "\n".join([
        "",
        "Demo data ready.",
        f"  Sign in:    {base}/login  as admin / {result.admin_password}"
        "  (also alice, bob with the same password)",
        f"  API docs:   {base}/api/docs",
        f"  API token:  {result.admin_token}",
        "",
        "Try:",
        f"  curl -H 'Authorization: Bearer {result.admin_token}' {base}/api",
        f"  curl -H 'Authorization: Bearer {result.admin_token}' {base}/api/me",
        f"  curl -H 'Authorization: Bearer {result.admin_token}' {base}/api/integrations",
        "",
    ])
