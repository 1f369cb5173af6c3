"""The integration-hub command: administration without the API."""

import json

from sqlalchemy import select

from integration_hub import crypto
from integration_hub.db.models import Integration, Team, Tenant, User, Webhook
from integration_hub.integrations import store as integrations
from integration_hub.integrations.configuration import SECRETS


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_create_tenant_user_team_and_token(app, client, session):
    assert run(app, "create-tenant", "acme", "--name", "Acme Inc", "--setting", "region=eu").exit_code == 0
    created = run(app, "create-user", "ada", "--tenant", "acme", "--superuser", "--password",
                  "long enough password", "--email", "ada@example.com", "--display-name", "Ada",
                  "--field", "region=eu", "--field", "team=core", "--permission",
                  "integrations.create")
    assert created.exit_code == 0, created.output
    assert run(app, "create-user", "bo", "--tenant", "acme").exit_code == 0
    team = run(app, "create-team", "core", "--name", "Core", "--tenant", "acme", "--member", "ada",
               "--member", "bo")
    assert team.exit_code == 0, team.output
    token_run = run(app, "create-token", "ada", "--tenant", "acme")
    assert token_run.exit_code == 0, token_run.output

    token = token_run.stdout.strip().splitlines()[-1]
    assert token.startswith("ihub_")
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert me["username"] == "ada" and me["tenantId"] == "acme" and me["superuser"] is True
    assert me["fields"] == {"region": "eu", "team": "core"}
    assert me["permissions"] == ["integrations.create"]
    assert me["teams"] == [{"id": "team:core", "name": "Core", "role": "member"}]
    assert session.get(Tenant, "acme").settings == {"region": "eu"}
    members = session.scalars(select(Team).where(Team.slug == "core")).one().members
    assert {m.user.username for m in members} == {"ada", "bo"}


def test_cli_errors_are_one_line_and_exit_nonzero(app):
    assert run(app, "create-user", "dup").exit_code == 0
    duplicate = run(app, "create-user", "dup")
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.output
    assert run(app, "create-token", "ghost").exit_code == 1
    assert run(app, "create-user", "x", "--field", "novalue").exit_code == 2


def test_demo_is_idempotent_and_its_token_works(app, client, session):
    first = run(app, "demo")
    second = run(app, "demo")
    assert first.exit_code == 0 and second.exit_code == 0, first.output

    token = next(line.split()[-1] for line in first.output.splitlines() if "API token:" in line)
    assert token in second.output  # the same token on every run
    assert client.get("/api", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert session.scalar(select(User).where(User.username == "admin")).superuser
    assert len(session.scalars(select(User)).all()) == 3
    demo_team = session.scalars(select(Team).where(Team.slug == "demo")).one()
    assert {m.user.username for m in demo_team.members} == {"alice", "bob"}
    alice_token = run(app, "create-token", "alice").output.strip().splitlines()[-1]
    shared = client.get("/api/integrations", headers={"Authorization": f"Bearer {alice_token}"})
    assert {i["slug"] for i in shared.get_json()["_embedded"]["inf:integration"]} == {
        "github", "openai", "inventory-api", "demo-provider", "product-catalog"}
    assert {i["authType"] for i in shared.get_json()["_embedded"]["inf:integration"]} == {
        "oauth2", "bearer", "apikey", "none"}
    password = first.output.split("as admin / ")[1].split()[0]
    assert client.post("/api/login", json={"username": "alice", "password": password}).status_code == 200


def _demo_on(app, address: str):
    """``integration-hub demo`` as ``make run`` starts it, serving on ``address``."""
    done = app.test_cli_runner().invoke(args=["demo"], env={"HUB_BIND": address})
    assert done.exit_code == 0, done.output
    return done


def _stored(session, slug: str) -> Integration:
    session.rollback()  # a new transaction: sees what the command committed
    return session.scalars(select(Integration).where(Integration.slug == slug)).one()


def _demo_hooks(session) -> list[Webhook]:
    session.rollback()  # a new transaction: sees what the command committed
    return [hook for hook in session.scalars(select(Webhook)) if hook.created_by == "admin"]


def test_demo_follows_the_address_it_is_served_on_and_leaves_the_users_own_alone(
        app, client, session):
    """Seeding for port A, then for port B on the same instance: what the demo made and
    nobody changed moves to B; what a user made or changed stays as it was."""
    assert run(app, "create-user", "ops", "--superuser").exit_code == 0
    ops = {"Authorization": "Bearer " + run(app, "create-token", "ops").output.split()[-1]}
    # Made by a user before the demo ever ran, under a slug the demo would use.
    own_catalog = client.post("/api/integrations", headers=ops, json={
        "name": "Our catalog", "slug": "product-catalog", "type": "custom",
        "authType": "none", "apiBaseUri": "http://127.0.0.1:8301/dev/catalog"})
    assert own_catalog.status_code == 201, own_catalog.get_json()

    first = _demo_on(app, "127.0.0.1:8301")
    assert "curl" in first.output and "http://127.0.0.1:8301/api" in first.output
    assert _stored(session, "inventory-api").api_base_uri.startswith("http://127.0.0.1:8301/")
    assert [h.url for h in _demo_hooks(session)] == ["http://127.0.0.1:8301/dev/echo/webhooks"]

    # A user's own integration calling the demo echo, and a demo integration a user changed.
    own_echo = client.post("/api/integrations", headers=ops, json={
        "name": "My echo", "type": "custom", "authType": "none",
        "apiBaseUri": "http://127.0.0.1:8301/dev/echo"})
    assert own_echo.status_code == 201, own_echo.get_json()
    changed = client.patch("/api/integrations/demo-provider", headers=ops,
                           json={"description": "Ours now"})
    assert changed.status_code == 200, changed.get_json()
    own_hook = client.post("/api/webhooks", headers=ops, json={
        "url": "http://127.0.0.1:8301/dev/echo/webhooks", "events": ["*"],
        "description": "Demo: every event to the echo"})  # the demo's words, a user's hook
    assert own_hook.status_code == 201, own_hook.get_json()

    second = _demo_on(app, "127.0.0.1:8302")
    assert "http://127.0.0.1:8302/api" in second.output
    assert "8301" not in second.output

    inventory = _stored(session, "inventory-api")
    assert inventory.api_base_uri == "http://127.0.0.1:8302/dev/echo/inventory/v2"
    assert inventory.has_api_key, "the demo's key stays with the re-pointed demo integration"
    hooks = _demo_hooks(session)
    assert [(h.url, h.hub_url) for h in hooks] == [
        ("http://127.0.0.1:8302/dev/echo/webhooks", "http://127.0.0.1:8302")]

    provider = _stored(session, "demo-provider")  # changed by a user: left as it was
    assert provider.description == "Ours now"
    assert {provider.auth_uri, provider.token_uri, provider.api_base_uri} == {
        "http://127.0.0.1:8301/dev/oauth/authorize", "http://127.0.0.1:8301/dev/oauth/token",
        "http://127.0.0.1:8301/dev/echo"}
    assert provider.has_client_secret
    catalog = _stored(session, "product-catalog")
    assert (catalog.id, catalog.name, catalog.api_base_uri) == (
        own_catalog.get_json()["id"], "Our catalog", "http://127.0.0.1:8301/dev/catalog")
    echo = session.get(Integration, own_echo.get_json()["id"])
    assert echo.api_base_uri == "http://127.0.0.1:8301/dev/echo"
    assert session.get(Webhook, own_hook.get_json()["id"]).url == (
        "http://127.0.0.1:8301/dev/echo/webhooks")

    # Seeding again for the same address changes nothing.
    before = inventory.updated_at
    _demo_on(app, "127.0.0.1:8302")
    assert _stored(session, "inventory-api").updated_at == before
    assert len(_demo_hooks(session)) == 1


def _as_configured(app, integration: Integration) -> dict:
    """Its configuration, secrets decrypted, as JSON text."""
    with app.app_context():
        secrets = {name: crypto.decrypt(getattr(integration, column))
                   for name, column in SECRETS.items()}
    return json.dumps({**integrations.configuration(integration), **secrets}, sort_keys=True)


def test_what_the_demo_made_moves_to_the_new_address_whole(app, session):
    _demo_on(app, "127.0.0.1:8401")
    slugs = [i.slug for i in session.scalars(select(Integration).order_by(Integration.slug))]
    before = {slug: _as_configured(app, _stored(session, slug)) for slug in slugs}
    shares = {slug: [(s.principal_id, s.access_level) for s in _stored(session, slug).shares]
              for slug in slugs}
    assert sum("127.0.0.1:8401" in text for text in before.values()) == 3

    moved = _demo_on(app, "127.0.0.1:8402")

    for slug in slugs:  # every address moved, nothing else changed, secrets kept
        after = _stored(session, slug)
        assert _as_configured(app, after) == before[slug].replace("8401", "8402"), slug
        assert [(s.principal_id, s.access_level) for s in after.shares] == shares[slug]
    assert [h.url for h in _demo_hooks(session)] == ["http://127.0.0.1:8402/dev/echo/webhooks"]
    assert "Moved here: demo-provider, inventory-api, product-catalog, webhook" in moved.output
