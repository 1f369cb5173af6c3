"""The audit log: every administrative action leaves one entry (who, what, from where, how
it ended, never a secret); refused and failed attempts too; filters, paging, tenants and
the command line."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from integration_hub import errors
from integration_hub.db.models import Integration, IntegrationShare, Team
from tests import factories
from tests.secret_watch import WATCH
from tests.support.problems import assert_problem

KEYED = {"type": "custom", "auth_type": "apikey", "mode": "per-user"}
API_KEY = "audit-api-key-0123456789"
CLIENT_SECRET = "audit-client-secret-0123456789"
PASSWORD = "audit user password 0123"
WEBHOOK_SECRET = "audit-webhook-secret-0123456789"
SECRETS = [API_KEY, CLIENT_SECRET, PASSWORD, WEBHOOK_SECRET]
NEW_INTEGRATION = {"name": "Audited API", "type": "github", "authType": "oauth2",
                   "authUri": "https://github.com/login/oauth/authorize",
                   "tokenUri": "https://github.com/login/oauth/access_token",
                   "apiBaseUri": "https://api.github.com", "clientId": "gh-client",
                   "clientSecret": CLIENT_SECRET}


def audit_page(client, caller, **filters) -> dict:
    answer = client.get("/api/audit", headers=caller.headers, query_string=filters)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def entries(client, caller, **filters) -> list[dict]:
    return audit_page(client, caller, **filters)["_embedded"]["inf:audit-entry"]


def only(client, caller, **filters) -> dict:
    found = entries(client, caller, **filters)
    assert len(found) == 1, found
    return found[0]


@dataclass
class World:
    """What the action table needs: the client, the two callers and the factories."""

    client: Any
    admin: Any
    member: Any
    make_integration: Any
    make_webhook: Any
    session: Any
    secrets: list[str]

    def ok(self, method: str, path: str, status: int, body: Any = None, caller=None) -> dict | None:
        answer = getattr(self.client, method)(path, headers=(caller or self.admin).headers, json=body)
        assert answer.status_code == status, answer.get_data(as_text=True)
        return answer.get_json() if answer.data else None

    def keyed(self) -> str:
        return self.make_integration("Keyed", shares={"mia": 1}, **KEYED)

    def connect(self, integration: str) -> dict:
        return self.ok("post", f"/api/integrations/{integration}/connect", 201,
                       {"apiKey": API_KEY}, caller=self.member)

    def team(self, slug: str = "ops", members=()) -> str:
        factories.team(self.session, slug, members=members)
        self.session.commit()
        return f"team:{slug}"


# Each action: (who acts, targetType, targetId, expected detail) after doing it once.
def integration_create(w):
    body = w.ok("post", "/api/integrations", 201, NEW_INTEGRATION)
    return "root", "integration", body["id"], {"name": "Audited API", "type": "github", "fields": [
        "api_base_uri", "auth_type", "auth_uri", "client_id", "client_secret", "name", "token_uri",
        "type"]}


def integration_provision(w):
    body = w.ok("post", "/api/integrations/provision", 201, {"driverType": "openai"})
    w.ok("post", "/api/integrations/provision", 200, {"driverType": "openai"})  # exists: no entry
    return "root", "integration", body["id"], {"type": "openai", "provisioned": True}


def on_keyed(method, suffix, status, body, detail):
    """An administrator's call on an API-key integration that mia may read."""
    def do(w):
        integration = w.keyed()
        w.ok(method, f"/api/integrations/{integration}{suffix}", status, body)
        return "root", "integration", integration, detail
    do.__name__ = f"{method}_integration{suffix.replace('/', '_')}"
    return do


def connection_create(w):
    integration = w.keyed()
    connection = w.connect(integration)
    return "mia", "integration", integration, {"connectionId": connection["id"], "shared": False,
                                               "reconnected": False}


def connection_delete(w):
    integration = w.keyed()
    connection = w.connect(integration)
    w.ok("delete", f"/api/integrations/{integration}/connection", 204, caller=w.member)
    return "mia", "integration", integration, {"connectionId": connection["id"], "shared": False}


def token_create(w):
    token = w.ok("post", "/api/tokens", 201, {"name": "ci"}, caller=w.member)
    w.secrets.append(token["token"])
    return "mia", "token", token["id"], {"name": "ci", "prefix": token["prefix"]}


def token_delete(w):
    token = w.ok("post", "/api/tokens", 201, {"name": "ci"}, caller=w.member)
    w.ok("delete", f"/api/tokens/{token['id']}", 204, caller=w.member)
    return "mia", "token", token["id"], {}


def webhook_create(w):
    hook = w.make_webhook(secret=WEBHOOK_SECRET)
    return "root", "webhook", hook["id"], {"url": hook["url"], "events": ["*"]}


def webhook_update(body):
    """PUT /api/webhooks/{id} is partial: the second case sends only the changed fields."""
    def do(w):
        hook = w.make_webhook()
        full = {"url": hook["url"], "events": ["*"]} if body == "full" else {}
        w.ok("put", f"/api/webhooks/{hook['id']}", 200, {**full, "description": "x",
                                                          "secret": WEBHOOK_SECRET})
        return "root", "webhook", hook["id"], {"changed": sorted(["description", "secret", *full])}
    do.__name__ = f"webhook_update_{body}"
    return do


def webhook_delete(w):
    hook = w.make_webhook()
    w.ok("delete", f"/api/webhooks/{hook['id']}", 204)
    return "root", "webhook", hook["id"], {"url": hook["url"]}


def plain(method, path, status, body, target_type, target_id, detail, team_members=None):
    """An administrator's call on a user, team or the tenant (a team ops made first if asked)."""
    def do(w):
        if team_members is not None:
            w.team(members=team_members)
        w.ok(method, path, status, body)
        return "root", target_type, target_id, detail
    do.__name__ = f"{method}_{path.replace('/', '_')}"
    return do


ACTIONS = [
    ("integration.create", integration_create), ("integration.create", integration_provision),
    ("integration.update", on_keyed("put", "", 200, {"description": "new", "apiKey": API_KEY},
                                    {"fields": ["api_key", "description"]})),
    ("integration.update", on_keyed("patch", "", 200, {"description": "new", "apiKey": API_KEY},
                                    {"fields": ["api_key", "description"]})),
    ("integration.delete", on_keyed("delete", "", 204, None, {"name": "Keyed", "forced": False})),
    ("integration.transfer", on_keyed("put", "/owner", 200, {"principalId": "mia"},
                                      {"previousOwner": "root", "owner": "mia"})),
    ("share.revoke", on_keyed("delete", "/shares/mia", 204, None, {"principalId": "mia"})),
    ("connection.create", connection_create), ("connection.delete", connection_delete),
    ("token.create", token_create), ("token.delete", token_delete),
    ("webhook.create", webhook_create), ("webhook.update", webhook_update("full")),
    ("webhook.update", webhook_update("partial")), ("webhook.delete", webhook_delete),
    ("user.create", plain("post", "/api/users", 201, {"username": "carol", "password": PASSWORD},
                          "user", "carol", {"fields": ["password", "username"]})),
    ("user.update", plain("put", "/api/users/mia", 200, {"displayName": "M", "password": PASSWORD},
                          "user", "mia", {"fields": ["display_name", "password"]})),
    ("user.delete", plain("delete", "/api/users/mia", 204, None, "user", "mia", {})),
    ("team.create", plain("post", "/api/teams", 201, {"id": "team:eng", "name": "Engineering"},
                          "team", "team:eng", {"name": "Engineering"})),
    ("team.update", plain("put", "/api/teams/team:ops", 200, {"name": "Operations"}, "team",
                          "team:ops", {"fields": ["name"]}, team_members=())),
    ("team.delete", plain("delete", "/api/teams/team:ops", 204, None, "team", "team:ops", {},
                          team_members=())),
    ("team.member_set", plain("put", "/api/teams/team:ops/members/mia", 200, {"role": "admin"},
                              "team", "team:ops", {"username": "mia", "role": "admin"},
                              team_members=())),
    ("team.member_remove", plain("delete", "/api/teams/team:ops/members/mia", 204, None, "team",
                                 "team:ops", {"username": "mia"}, team_members=["mia"])),
    ("tenant.update", plain("put", "/api/tenant", 200, {"name": "Acme", "settings": {"region": "eu"}},
                            "tenant", "default", {"fields": ["name", "settings"]})),
]


@pytest.fixture
def world(client, admin, member, make_integration, make_webhook, session) -> World:
    WATCH.remember(SECRETS)
    return World(client, admin, member, make_integration, make_webhook, session, list(SECRETS))


def assert_no_secrets(answer_text: str, secrets=SECRETS) -> None:
    for secret in secrets:
        assert secret not in answer_text


@pytest.mark.parametrize("action, do", ACTIONS,
                         ids=[f"{a}-{d.__name__}" for a, d in ACTIONS])
def test_each_administrative_action_is_audited(world, client, admin, action, do):
    actor, target_type, target_id, detail = do(world)

    entry = only(client, admin, action=action)
    assert entry["actor"] == actor and entry["channel"] == "api"
    assert entry["sourceIp"] == "127.0.0.1"
    assert (entry["targetType"], entry["targetId"]) == (target_type, target_id)
    assert entry["outcome"] == "success" and entry["errorCode"] is None
    assert {k: entry["detail"].get(k) for k in detail} == detail
    one = client.get(entry["_links"]["self"]["href"], headers=admin.headers)
    assert one.status_code == 200 and one.get_json() == entry
    assert_no_secrets(json.dumps(audit_page(client, admin, limit=500)) + one.get_data(as_text=True),
                      world.secrets)


def test_share_grant_says_whether_the_share_was_created(world, client, admin):
    integration = world.keyed()
    path = f"/api/integrations/{integration}/shares/team:ops"
    world.team()
    world.ok("put", path, 201, {"accessLevel": 1})
    world.ok("put", path, 200, {"accessLevel": 2})

    changed, created = entries(client, admin, action="share.grant")  # newest first
    for entry in (changed, created):
        assert (entry["actor"], entry["channel"], entry["sourceIp"]) == ("root", "api", "127.0.0.1")
        assert (entry["targetType"], entry["targetId"]) == ("integration", integration)
        assert entry["outcome"] == "success"
    assert created["detail"] == {"principalId": "team:ops", "accessLevel": 1, "created": True}
    assert changed["detail"] == {"principalId": "team:ops", "accessLevel": 2, "created": False}


def test_connecting_from_the_start_page_is_audited_as_web(world, client, admin, make_caller):
    make_caller("wendy", password=PASSWORD)
    integration = world.make_integration("Keyed", shares={"wendy": 1}, **KEYED)
    csrf = client.post("/api/login", json={"username": "wendy", "password": PASSWORD}
                       ).get_json()["csrfToken"]

    answer = client.post(f"/integrations/{integration}/connect",
                         data={"apiKey": API_KEY, "csrf_token": csrf})

    assert answer.status_code == 303 and "status=connected" in answer.headers["Location"]
    entry = only(client, admin, action="connection.create")
    assert (entry["actor"], entry["channel"], entry["sourceIp"]) == ("wendy", "web", "127.0.0.1")
    assert (entry["targetType"], entry["targetId"], entry["outcome"]) == (
        "integration", integration, "success")
    assert set(entry["detail"]) == {"connectionId", "shared", "reconnected"}
    assert_no_secrets(json.dumps(entry))


@pytest.mark.parametrize("method, path, body, action", [
    ("put", "/api/integrations/{id}", {"description": "by mia"}, "integration.update"),
    ("patch", "/api/integrations/{id}", {"description": "by mia"}, "integration.update"),
    ("delete", "/api/integrations/{id}", None, "integration.delete"),
    ("put", "/api/integrations/{id}/owner", {"principalId": "mia"}, "integration.transfer"),
])
def test_refused_attempts_are_audited_as_denied(world, client, admin, member, session, method,
                                                path, body, action):
    integration = world.keyed()  # mia may read it, not change it

    answer = getattr(client, method)(path.format(id=integration), headers=member.headers, json=body)

    assert_problem(answer, 403, "forbidden")
    entry = only(client, admin, action=action)
    assert (entry["actor"], entry["channel"], entry["sourceIp"]) == ("mia", "api", "127.0.0.1")
    assert (entry["targetType"], entry["targetId"]) == ("integration", integration)
    assert (entry["outcome"], entry["errorCode"]) == ("denied", "forbidden")
    stored = session.get(Integration, integration)
    assert stored is not None and stored.owner_id == "root" and stored.description != "by mia"


@pytest.mark.parametrize("method, path, body, action, target_type, target_id", [
    ("post", "/api/users", {"username": "x"}, "user.create", "user", None),
    ("delete", "/api/users/root", None, "user.delete", "user", "root"),
    ("put", "/api/teams/team:ops", {"name": "Mine"}, "team.update", "team", "team:ops"),
    ("post", "/api/webhooks", {"url": "https://example.com/h", "events": ["*"]}, "webhook.create",
     "webhook", None),
])
def test_non_administrators_are_denied_and_audited(world, client, admin, member, method, path,
                                                   body, action, target_type, target_id):
    world.team()
    assert getattr(client, method)(path, headers=member.headers, json=body).status_code == 403

    entry = only(client, admin, action=action)
    assert (entry["actor"], entry["targetType"], entry["targetId"]) == ("mia", target_type, target_id)
    assert (entry["outcome"], entry["errorCode"]) == ("denied", "forbidden")


def test_deleting_an_integration_in_use_fails_and_is_audited(world, client, admin, session):
    integration = world.keyed()
    world.connect(integration)

    assert_problem(client.delete(f"/api/integrations/{integration}", headers=admin.headers),
                   409, "integration_in_use")

    entry = only(client, admin, action="integration.delete")
    assert (entry["actor"], entry["targetId"]) == ("root", integration)
    assert (entry["outcome"], entry["errorCode"]) == ("failed", "integration_in_use")
    assert session.get(Integration, integration) is not None
    world.ok("delete", f"/api/integrations/{integration}?force=true", 204)
    forced = only(client, admin, action="integration.delete", outcome="success")
    assert forced["detail"]["forced"] is True


def test_other_hub_errors_fail_and_schema_rejections_are_not_audited(world, client, admin):
    missing = client.put("/api/integrations/no-such-thing", headers=admin.headers,
                         json={"description": "x"})
    assert_problem(missing, 404, "integration_not_found")
    stale = client.put("/api/tenant", headers={**admin.headers, "If-Match": '"stale"'},
                       json={"name": "Other"})
    assert_problem(stale, 412, "precondition_failed")
    assert client.post("/api/teams", headers=admin.headers, json={}).status_code == 422
    assert client.delete(f"/api/integrations/{world.keyed()}").status_code == 401

    stale_entry, missing_entry = entries(client, admin)
    assert (stale_entry["action"], stale_entry["targetId"], stale_entry["outcome"],
            stale_entry["errorCode"]) == ("tenant.update", "default", "failed", "precondition_failed")
    assert (missing_entry["action"], missing_entry["targetId"], missing_entry["outcome"],
            missing_entry["errorCode"]) == ("integration.update", "no-such-thing", "failed",
                                            "integration_not_found")


def test_a_change_that_fails_leaves_no_success_entry(world, client, admin, session):
    answer = client.post("/api/teams", headers=admin.headers, json={
        "id": "team:eng", "name": "Engineering", "members": [{"username": "nobody"}]})

    assert_problem(answer, 404, "user_not_found")
    assert session.scalars(select(Team)).all() == []
    entry = only(client, admin, action="team.create")
    assert (entry["outcome"], entry["errorCode"]) == ("failed", "user_not_found")


def test_a_change_rolled_back_after_its_entry_was_written_leaves_no_success_entry(
        world, client, admin, session, monkeypatch):
    from integration_hub.audit.actions import AuditedAction
    from integration_hub.integrations import sharing

    succeeded = AuditedAction.succeeded

    integration = world.keyed()

    def fail_late(*args, **kwargs):  # runs after the success entry, inside the transaction
        raise errors.Conflict("failed after the entry was written")

    written = []
    monkeypatch.setattr(sharing, "with_principals", fail_late)
    monkeypatch.setattr(AuditedAction, "succeeded",
                        lambda *a, **kw: written.append(succeeded(*a, **kw)))
    answer = client.put(f"/api/integrations/{integration}/shares/root", headers=admin.headers,
                        json={"accessLevel": 2})

    assert_problem(answer, 409, "conflict")
    assert len(written) == 1  # the success entry was added to the transaction, then rolled back
    assert session.scalars(select(IntegrationShare).where(
        IntegrationShare.principal_id == "root")).all() == []
    assert entries(client, admin, action="share.grant", outcome="success") == []
    assert only(client, admin, action="share.grant")["outcome"] == "failed"


@pytest.fixture
def history(world, client, admin, member) -> list[dict]:
    """Five entries by two actors on three target types, oldest first."""
    integration = world.keyed()
    world.ok("patch", f"/api/integrations/{integration}", 200, {"description": "a"})
    world.ok("post", "/api/tokens", 201, {"name": "t"}, caller=member)
    world.ok("post", "/api/teams", 201, {"id": "qa", "name": "QA"})
    assert client.delete(f"/api/integrations/{integration}", headers=member.headers).status_code == 403
    world.ok("put", f"/api/integrations/{integration}/shares/team:qa", 201, {"accessLevel": 1})
    return list(reversed(entries(client, admin)))


def test_newest_first_and_filters(client, admin, history):
    actions = [e["action"] for e in history]
    assert actions == ["integration.update", "token.create", "team.create", "integration.delete",
                       "share.grant"]
    integration = history[0]["targetId"]

    def picked(**filters):
        return [e["action"] for e in entries(client, admin, **filters)]

    assert picked() == actions[::-1]
    assert picked(actor="mia") == ["integration.delete", "token.create"]
    assert picked(action="integration.update") == ["integration.update"]
    assert picked(action="integration.") == ["integration.delete", "integration.update"]
    assert picked(action="integration") == []  # no dot: exact
    assert picked(targetType="team") == ["team.create"]
    assert picked(targetId=integration) == ["share.grant", "integration.delete", "integration.update"]
    assert picked(outcome="denied") == ["integration.delete"]
    assert picked(outcome="success", actor="root", targetType="integration") == [
        "share.grant", "integration.update"]
    middle = history[2]["at"]
    assert picked(since=middle) == ["share.grant", "integration.delete", "team.create"]
    assert picked(until=middle) == ["token.create", "integration.update"]
    assert picked(since=history[1]["at"], until=history[3]["at"]) == ["team.create", "token.create"]
    assert client.get("/api/audit", headers=admin.headers,
                      query_string={"outcome": "maybe"}).status_code == 422


def test_paging(client, admin, history):
    first = audit_page(client, admin, limit=2, outcome="success")
    assert (first["start"], first["count"], first["total"]) == (0, 2, 4)
    assert [e["action"] for e in first["_embedded"]["inf:audit-entry"]] == ["share.grant", "team.create"]
    following = client.get(first["_links"]["next"]["href"], headers=admin.headers).get_json()
    assert (following["start"], following["count"], following["total"]) == (2, 2, 4)
    assert [e["action"] for e in following["_embedded"]["inf:audit-entry"]] == [
        "token.create", "integration.update"]
    assert "next" not in following["_links"]


def test_one_entry_and_unknown_entries(client, admin, history):
    newest = history[-1]
    assert client.get(f"/api/audit/{newest['id']}", headers=admin.headers).get_json() == newest
    assert_problem(client.get(f"/api/audit/{uuid.uuid4()}", headers=admin.headers), 404,
                   "audit_entry_not_found")


def test_other_tenants_entries_are_invisible(client, admin, make_caller, history):
    boss = make_caller("boss", tenant="acme", superuser=True)
    assert client.put("/api/tenant", headers=boss.headers, json={"name": "Acme"}).status_code == 200

    theirs = only(client, boss)
    assert (theirs["actor"], theirs["action"], theirs["targetId"]) == ("boss", "tenant.update", "acme")
    assert [e["id"] for e in entries(client, admin)] == [e["id"] for e in reversed(history)]
    assert_problem(client.get(f"/api/audit/{theirs['id']}", headers=admin.headers), 404,
                   "audit_entry_not_found")
    assert_problem(client.get(f"/api/audit/{history[0]['id']}", headers=boss.headers), 404,
                   "audit_entry_not_found")


def test_only_administrators_read_the_log(client, member, history):
    assert_problem(client.get("/api/audit", headers=member.headers), 403, "forbidden")
    assert_problem(client.get(f"/api/audit/{history[0]['id']}", headers=member.headers), 403,
                   "forbidden")
    assert client.get("/api/audit").status_code == 401
    assert client.get(f"/api/audit/{history[0]['id']}").status_code == 401


def run(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result


def test_command_line_token_is_audited_without_actor_or_address(app, client, admin, make_caller):
    boss = make_caller("boss", tenant="acme", superuser=True)
    token = run(app, "create-token", "root", "--name", "ops").stdout.split()[-1]
    assert token.startswith("ihub_")

    entry = only(client, admin, action="token.create")
    assert (entry["actor"], entry["channel"], entry["sourceIp"]) == (None, "cli", None)
    assert entry["targetType"] == "token" and entry["outcome"] == "success"
    assert entry["detail"]["name"] == "ops" and entry["detail"]["username"] == "root"
    assert token not in json.dumps(audit_page(client, admin))
    assert entries(client, boss, action="token.create") == []


def test_key_rotation_is_visible_to_every_tenants_administrators(app, client, admin, make_caller,
                                                                world):
    boss = make_caller("boss", tenant="acme", superuser=True)
    world.keyed()
    run(app, "rotate-keys")

    for caller in (admin, boss):
        entry = only(client, caller, action="keys.")
        assert (entry["action"], entry["actor"], entry["channel"], entry["sourceIp"]) == (
            "keys.rotate", None, "cli", None)
        assert (entry["targetType"], entry["targetId"], entry["outcome"]) == (None, None, "success")
        assert set(entry["detail"]) == {"secrets", "columns"}
        assert client.get(f"/api/audit/{entry['id']}", headers=caller.headers).status_code == 200
