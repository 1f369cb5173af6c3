"""Demo data for trying the hub offline: an administrator, two users, a team, a
token, integrations of several auth types shared with the team, and a webhook
telling every event to the development echo (its deliveries show what is sent).

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
from integration_hub.db.models import ApiToken, IntegrationShare, Team, User, Webhook
from integration_hub.oauth_demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from integration_hub.services import identity, integrations, oauth_rules, tokens, webhooks

ADMIN = "admin"
DEMO_USERS = (
    {"username": "alice", "display_name": "Alice Example", "email": "alice@example.com",
     "fields": {"region": "eu", "department": "engineering"}},
    {"username": "bob", "display_name": "Bob Example", "email": "bob@example.com",
     "fields": {"region": "us", "department": "sales"}},
)
def demo_integrations(base: str) -> tuple[tuple[dict, int], ...]:
    """Integrations shared with the demo team, with the access level of the share.

    The first two use the development stand-ins at ``base`` (the demo OAuth
    provider and the echo upstream), so connecting and calling work offline.
    """
    return (
        ({"slug": "demo-provider", "name": "Demo OAuth provider", "type": "custom",
          "category": "custom", "mode": "per-user",
          "description": "Connect your own account through the built-in demo provider",
          "auth_type": "oauth2", "auth_uri": f"{base}/dev/oauth/authorize",
          "token_uri": f"{base}/dev/oauth/token", "user_info_uri": f"{base}/dev/oauth/userinfo",
          "revocation_uri": f"{base}/dev/oauth/revoke", "api_base_uri": f"{base}/dev/echo",
          "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
          "scope": "profile email", "headers": {"X-User-Email": "${user.email}"}}, 1),
        ({"slug": "inventory-api", "name": "Inventory API", "type": "custom",
          "category": "internal", "mode": "shared",
          "description": "Shared API key; the caller's identity travels in headers",
          "auth_type": "apikey", "api_base_uri": f"{base}/dev/echo/inventory/v2",
          "api_key_name": "X-API-Key", "api_key": "demo-inventory-key",
          "headers": {"X-User-Email": "${user.email}", "X-Region": "${user.region:-eu}"}}, 2),
        ({"slug": "product-catalog", "name": "Product catalog", "type": "custom",
          "category": "internal", "mode": "shared", "auth_type": "none",
          "description": "A paged listing synced into the hub's records every hour",
          "api_base_uri": f"{base}/dev/catalog", "data": {"sync": {
              "model": "products", "path": "/products", "itemsPath": "items",
              "pagination": {"style": "cursor", "cursorPath": "nextCursor"},
              "schedule": {"intervalMinutes": 60}}}}, 2),
        ({"slug": "github", "name": "GitHub", "type": "github",
          "description": "Register an OAuth app with GitHub and set its client id and secret here",
          "client_id": oauth_rules.UNSET_CLIENT_ID, "scope": "read:user"}, 1),
        ({"slug": "openai", "name": "OpenAI", "type": "openai",
          "description": "Bearer-token API; each user connects their own key"}, 1),
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


def seed(session: Session, settings: Settings, base: str) -> DemoResult:
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
    for values, level in demo_integrations(base):
        if integrations.lookup(session, tenant_id, values["slug"]) is None:
            created = integrations.create(session, admin, values)
            created.shares.append(IntegrationShare(principal_id=DEMO_TEAM["id"], access_level=level))

    echo = f"{base}/dev/echo/webhooks"
    if session.scalars(select(Webhook.id).where(Webhook.tenant_id == tenant_id,
                                                Webhook.url == echo)).first() is None:
        webhooks.create(session, admin, {"url": echo, "events": ["*"],
                                         "description": "Demo: every event to the echo"}, base)

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


def instructions(result: DemoResult, base: str) -> str:
    auth = f"-H 'Authorization: Bearer {result.admin_token}'"
    return "\n".join([
        "",
        "Demo data ready.",
        f"  Sign in:    {base}/login  as admin / {result.admin_password}"
        "  (also alice, bob with the same password)",
        "              then press Connect on 'Demo OAuth provider' to try the OAuth flow",
        f"  API docs:   {base}/api/docs  (Authorize with the API token below, then Try it out)",
        f"  API token:  {result.admin_token}",
        "",
        "Try:",
        f"  curl {auth} {base}/api",
        f"  curl {auth} {base}/api/integrations",
        f"  curl {auth} -H 'Content-Type: application/json' -d '{{\"token\": \"my-openai-key\"}}' "
        f"{base}/api/integrations/openai/connect",
        f"  curl {auth} -X POST {base}/api/integrations/product-catalog/sync",
        f"  curl {auth} -H 'Content-Type: application/json' -d '{{\"op\": \"sum\", "
        f"\"model\": \"products\", \"fields\": [\"stock\"]}}' "
        f"{base}/api/integrations/product-catalog/store",
        f"  curl {auth} {base}/api/webhooks        # then follow inf:webhook-deliveries",
        f"  curl {auth} {base}/api/audit",
        "",
    ])
