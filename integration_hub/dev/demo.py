"""Demo data for trying the hub offline: an administrator, two users, a team, a
token, integrations of several auth types shared with the team, and a webhook
telling every event to the development echo (its deliveries show what is sent).

Seeding is idempotent. The administrator's password and token are generated
once and kept in the instance folder (development only), so every run prints
the same, working credentials.

The demo's integrations and webhook call the hub itself, so they carry its address.
Seeding for another address (``make run PORT=...`` on the same instance) moves what the
demo made and nobody changed since to that address; anything a user made or changed is
left as it is (docs/decisions.md, "Demo").
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_hub import crypto
from integration_hub.config import Settings
from integration_hub.db.models import ApiToken, Integration, IntegrationShare, Team, User, Webhook
from integration_hub.dev.demo_client import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from integration_hub.identity import directory as identity
from integration_hub.identity import tokens
from integration_hub.integrations import store as integrations
from integration_hub.integrations.acl import Access
from integration_hub.integrations.configuration import NULL_MEANS, SECRETS, apply, with_catalogue_defaults
from integration_hub.oauth import rules as oauth_rules
from integration_hub.webhooks import subscriptions as webhooks

ADMIN = "admin"
DEMO_USERS = (
    {"username": "alice", "display_name": "Alice Example", "email": "alice@example.com",
     "fields": {"region": "eu", "department": "engineering"}},
    {"username": "bob", "display_name": "Bob Example", "email": "bob@example.com",
     "fields": {"region": "us", "department": "sales"}},
)
HOOK_PATH = "/dev/echo/webhooks"
HOOK_DESCRIPTION = "Demo: every event to the echo"


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
    moved: tuple[str, ...] = ()  # what the demo had made for another address, moved here


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
    moved = []
    for values, level in demo_integrations(base):
        existing = integrations.lookup(session, tenant_id, values["slug"])
        if existing is None:
            created = integrations.create(session, admin, values)
            created.shares.append(IntegrationShare(principal_id=DEMO_TEAM["id"], access_level=level))
        elif seeded_for(existing) not in (None, base):
            integrations.update(session, admin, integrations.Found(existing, Access.OWNER), values)
            moved.append(existing.slug)
    moved += _seed_webhook(session, admin, base)

    plain = _kept_secret(settings.instance_path, "demo-admin-token", tokens.generate_token)
    known = session.scalars(select(ApiToken).where(
        ApiToken.token_hash == tokens.hash_token(plain))).first()
    if known is None or known.user_id != admin.id:
        if known is not None:
            session.delete(known)
            session.flush()
        tokens.issue_token(session, admin, "demo", plain=plain)
    return DemoResult(password, plain, tuple(moved))


def _seed_webhook(session: Session, admin: User, base: str) -> list[str]:
    """One demo webhook, to the echo at ``base``: the demo's own at other addresses move
    here (or go, when one is here already: each would deliver every event once more)."""
    echo = f"{base}{HOOK_PATH}"
    hooks = list(session.scalars(select(Webhook).where(Webhook.tenant_id == admin.tenant_id)
                                 .order_by(Webhook.created_at, Webhook.id)))
    here = [hook for hook in hooks if hook.url == echo]
    moved = []
    for hook in hooks:
        if hook.url == echo or hook_seeded_for(hook) is None:
            continue
        if here:
            webhooks.delete(session, hook)
        else:  # switched on again if the hub switched it off (its address did not answer)
            webhooks.update(session, hook, {"url": echo, "enabled": True}, base)
            here.append(hook)
        moved.append("webhook")
    if not here:
        webhooks.create(session, admin, {"url": echo, "events": ["*"],
                                         "description": HOOK_DESCRIPTION}, base)
    return moved


def seeded_for(integration: Integration) -> str | None:
    """The address the demo made ``integration`` for, while it is exactly as the demo wrote
    it: the demo administrator's, and every setting and secret what the demo gives for
    that address. None for anything else (a user's own, or one a user changed)."""
    if integration.owner_id != ADMIN:
        return None
    suffix = _demo_values("").get(integration.slug, {}).get("api_base_uri")
    address = integration.api_base_uri or ""
    if not suffix or not address.endswith(suffix) or len(address) == len(suffix):
        return None  # not a demo integration that calls the hub itself
    base = address[:-len(suffix)]
    return base if _as_written(integration, _demo_values(base)[integration.slug]) else None


def hook_seeded_for(hook: Webhook) -> str | None:
    """The address the demo made ``hook`` for, while no one changed it (the hub switching
    it off for failed deliveries is no one's change); None otherwise."""
    if not (hook.url.endswith(HOOK_PATH) and hook.created_by == ADMIN
            and hook.description == HOOK_DESCRIPTION and hook.events == ["*"]
            and (hook.enabled or hook.disabled_reason is not None)):
        return None
    base = hook.url[:-len(HOOK_PATH)]
    return base if base and hook.hub_url == base else None


def _demo_values(base: str) -> dict[str, dict]:
    return {values["slug"]: values for values, _ in demo_integrations(base)}


def _as_written(integration: Integration, values: dict) -> bool:
    """``integration`` holds exactly what creating it from ``values`` writes."""
    written = Integration(headers={}, data={})
    values = with_catalogue_defaults(written, {**values})
    for attribute, default in NULL_MEANS.items():
        if getattr(written, attribute) is None:
            setattr(written, attribute, default)
    apply(written, {name: value for name, value in values.items() if name not in SECRETS})
    if integrations.configuration(written) != integrations.configuration(integration):
        return False
    try:
        return all(crypto.decrypt(getattr(integration, column)) == (values.get(name) or None)
                   for name, column in SECRETS.items())
    except crypto.SecretDecryptionError:
        return False


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
        *([f"  Moved here: {', '.join(result.moved)} (seeded for another address before)"]
          if result.moved else []),
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
