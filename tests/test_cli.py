"""The integration-hub command: administration without the API."""

from sqlalchemy import select

from integration_hub.db.models import Team, Tenant, User


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
