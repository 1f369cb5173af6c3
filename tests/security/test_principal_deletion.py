"""Deleting a user or team leaves no live grant, and its principal id never names anyone
else (docs/security.md, "Deleted principals").

The attacks: carol is deleted and a new colleague is created as ``carol``; before, she
inherited the old carol's shares and connection, and her proxied calls went upstream with
the old carol's personal token. Team ``ops`` is deleted while it owns an integration and
re-created with other members; before, they became its owners.
"""

from __future__ import annotations

import logging
import socket

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_hub import create_app
from integration_hub.config import normalise_database_url
from integration_hub.db import migrations
from integration_hub.db.models import (
    ApiToken,
    AuditEntry,
    BrowserSession,
    Connection,
    Integration,
    IntegrationShare,
    OAuthState,
    RetiredPrincipal,
    SyncState,
    Tag,
    TeamMember,
    Tenant,
    User,
)
from integration_hub.db.session import make_engine
from integration_hub.identity import directory as identity
from integration_hub.queue import job_queue
from tests import factories
from tests.conftest import BACKENDS, make_settings
from tests.secret_watch import WatchedClient
from tests.support.problems import assert_problem

CAROLS_ACCESS = "carols-personal-access-token"
CAROLS_REFRESH = "carols-personal-refresh-token"
PASSWORD = "carols long password"


def connect_carol(client, carol, integration):
    answer = client.post(f"/api/integrations/{integration}/connect", headers=carol.headers,
                         json={"accessToken": CAROLS_ACCESS, "refreshToken": CAROLS_REFRESH,
                               "expiresIn": 3600})
    assert answer.status_code == 201, answer.get_data(as_text=True)


def proxied(client, caller, integration):
    return client.post(f"/api/integrations/{integration}/request", headers=caller.headers,
                       json={"url": "me"})


def test_carols_namesake_is_refused_and_her_token_never_goes_upstream_again(
        client, admin, make_caller, upstream, oauth_server, oauth_integration):
    integration = oauth_integration(shares={"carol": 1}, api_base_uri=f"{upstream.url}/api")
    carol = make_caller("carol")
    connect_carol(client, carol, integration)
    assert proxied(client, carol, integration).status_code == 200

    assert client.delete("/api/users/carol", headers=admin.headers).status_code == 204
    # A new colleague called carol joins: the name is not given again.
    refused = client.post("/api/users", headers=admin.headers, json={"username": "carol"})

    assert_problem(refused, 409, "principal_id_retired")
    assert client.get("/api/users/carol", headers=admin.headers).status_code == 404
    assert proxied(client, carol, integration).status_code == 401
    assert [r.header("Authorization") for r in upstream.requests()] == [f"Bearer {CAROLS_ACCESS}"]


def test_deleting_a_user_removes_every_grant_and_revokes_her_tokens_upstream(
        app, client, session, admin, make_caller, upstream, oauth_server, oauth_integration):
    integration = oauth_integration(shares={"carol": 3}, api_base_uri=f"{upstream.url}/api")
    carol = make_caller("carol", password=PASSWORD)
    factories.team(session, "ops", members=["carol"])
    session.commit()
    carols_id = session.scalars(select(User.id).where(User.username == "carol")).one()
    connect_carol(client, carol, integration)
    browser = app.test_client()
    assert browser.post("/api/login", json={"username": "carol", "password": PASSWORD}) \
        .status_code == 200
    started = client.get(f"/api/integrations/{integration}/connect", headers=carol.headers)
    assert started.status_code == 302  # an OAuth flow she began and never finished

    assert client.delete("/api/users/carol", headers=admin.headers).status_code == 204

    session.rollback()
    assert session.scalars(select(IntegrationShare.principal_id)).all() == []
    assert session.scalars(select(Connection.holder)).all() == []
    for model in (ApiToken, BrowserSession, OAuthState, TeamMember):
        assert session.scalars(select(model).where(model.user_id == carols_id)).all() == [], \
            model.__name__
    assert browser.get("/api/me").status_code == 401
    revoked = [(r["form"]["token"], r["form"]["token_type_hint"])
               for r in oauth_server.requests("/revoke")]
    assert revoked == [(CAROLS_REFRESH, "refresh_token")]


def test_a_team_owning_integrations_needs_a_successor_and_its_id_is_never_reused(
        client, session, admin, make_caller, make_integration):
    otto = make_caller("otto")
    factories.team(session, "ops", members=["otto"])
    session.commit()
    console = make_integration("Ops Console", owner="team:ops")
    pager = make_integration("Pager", owner="team:ops")
    shared = make_integration("Wiki", shares={"team:ops": 3})

    refused = client.delete("/api/teams/team:ops", headers=admin.headers)

    problem = assert_problem(refused, 409, "principal_owns_integrations")
    assert problem["total"] == 2
    listed = problem["_embedded"]["inf:integration"]
    assert [(i["id"], i["name"]) for i in listed] == [(console, "Ops Console"), (pager, "Pager")]
    assert listed[0]["_links"]["inf:integration-owner"]["href"] == \
        f"/api/integrations/{console}/owner"
    assert client.get(f"/api/integrations/{console}", headers=otto.headers).status_code == 200

    deleted = client.delete("/api/teams/team:ops?successor=root", headers=admin.headers)

    assert deleted.status_code == 204, deleted.get_data(as_text=True)
    owners = {client.get(f"/api/integrations/{i}", headers=admin.headers).get_json()["ownerId"]
              for i in (console, pager)}
    assert owners == {"root"}
    assert client.get(f"/api/integrations/{shared}/shares", headers=admin.headers) \
        .get_json()["total"] == 0
    # Re-creating team:ops (with otto again) would hand it the old team's grants: refused.
    again = client.post("/api/teams", headers=admin.headers, json={
        "id": "team:ops", "name": "New Ops", "members": [{"username": "otto"}]})
    assert_problem(again, 409, "principal_id_retired")
    for integration in (console, pager, shared):
        assert client.get(f"/api/integrations/{integration}", headers=otto.headers) \
            .status_code == 404


def test_a_user_owning_integrations_hands_them_to_the_named_successor(
        client, session, admin, make_caller, make_integration):
    make_caller("carol")
    factories.team(session, "ops")
    session.commit()
    owned = make_integration("Carol's API", owner="carol")

    assert_problem(client.delete("/api/users/carol", headers=admin.headers), 409,
                   "principal_owns_integrations")
    assert client.delete("/api/users/carol?successor=team:ops",
                         headers=admin.headers).status_code == 204

    assert client.get(f"/api/integrations/{owned}/owner", headers=admin.headers) \
        .get_json()["id"] == "team:ops"
    transfer = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "integration.transfer")).one()
    assert (transfer.target_id, transfer.detail["previousOwner"], transfer.detail["owner"]) == \
        (owned, "carol", "team:ops")
    refusal, entry = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "user.delete").order_by(AuditEntry.at)).all()
    assert (refusal.outcome, refusal.error_code) == ("failed", "principal_owns_integrations")
    assert (entry.target_id, entry.outcome, entry.detail["successor"],
            entry.detail["transferred"]) == ("carol", "success", "team:ops", 1)
    assert entry.detail["removed"] == {"shares": 0, "connections": 0, "apiTokens": 1,
                                       "browserSessions": 0, "oauthFlows": 0, "memberships": 0}


@pytest.mark.parametrize("successor", ["nobody", "carol", "team:nope", "mallory"])
def test_the_successor_must_be_another_principal_of_the_tenant(
        client, admin, make_caller, make_integration, successor):
    make_caller("carol")
    make_caller("mallory", tenant="other")
    owned = make_integration("Carol's API", owner="carol")

    answer = client.delete("/api/users/carol", headers=admin.headers,
                           query_string={"successor": successor})

    problem = assert_problem(answer, 422, "validation_failed")
    assert "successor" in problem["errors"]
    assert client.get("/api/users/carol", headers=admin.headers).status_code == 200
    assert client.get(f"/api/integrations/{owned}", headers=admin.headers) \
        .get_json()["ownerId"] == "carol"


def test_deletion_events_tell_webhooks_what_went(client, admin, make_caller, make_integration,
                                                 receiver, run_queue, make_webhook):
    carol = make_caller("carol")
    keyed = make_integration("Keyed", auth_type="apikey", mode="per-user",
                             shares={"carol": 1}, owner="carol")
    assert client.post(f"/api/integrations/{keyed}/connect", headers=carol.headers,
                       json={"apiKey": "carols-own-key-1"}).status_code == 201
    make_webhook(["integration.updated", "share.deleted", "connection.deleted"])

    assert client.delete("/api/users/carol?successor=root", headers=admin.headers) \
        .status_code == 204

    run_queue()
    got = receiver.deliveries("/hook")
    assert sorted(d.event for d in got) == ["connection.deleted", "integration.updated",
                                            "share.deleted"]
    assert all(d.json["actor"] == "root" for d in got)
    assert next(d for d in got if d.event == "integration.updated").json["data"]["ownerId"] \
        == "root"


def test_a_failing_revocation_endpoint_never_blocks_the_deletion(
        client, session, admin, make_caller, upstream, oauth_server, oauth_integration, caplog):
    upstream.respond("/revoke", {"status": 500}, sticky=True)
    integration = oauth_integration(shares={"carol": 1}, revocation_uri=f"{upstream.url}/revoke")
    carol = make_caller("carol")
    connect_carol(client, carol, integration)
    caplog.set_level(logging.WARNING, logger="integration_hub")

    assert client.delete("/api/users/carol", headers=admin.headers).status_code == 204

    session.rollback()
    assert session.scalars(select(Connection)).all() == []
    assert [r.path for r in upstream.requests()] == ["/revoke", "/revoke"]  # refresh, then access
    warned = [r.getMessage() for r in caplog.records if r.name.endswith("oauth.revocation")]
    assert any(integration in message for message in warned), warned


@pytest.fixture
def silent_server():
    """A server that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.fixture
def hurried(app, tmp_path):
    """A second hub on the test's database that waits half a second for revocations."""
    hub = create_app(make_settings(app.config["HUB_SETTINGS"].database_url, tmp_path,
                                   HUB_REVOCATION_DEADLINE="0.5"))
    hub.test_client_class = WatchedClient
    yield hub
    hub.extensions["integration_hub.request_log"].flush()
    job_queue(hub).huey.flush()
    hub.extensions["integration_hub.db"].kw["bind"].dispose()


def test_a_silent_revocation_endpoint_is_left_behind_at_the_deadline(
        hurried, client, session, admin, make_caller, oauth_server, oauth_integration,
        silent_server, caplog):
    integration = oauth_integration(shares={"carol": 1}, revocation_uri=f"{silent_server}/revoke")
    carol = make_caller("carol")
    connect_carol(client, carol, integration)
    caplog.set_level(logging.WARNING, logger="integration_hub")

    answer = hurried.test_client().delete("/api/users/carol", headers=admin.headers)

    assert answer.status_code == 204
    session.rollback()
    assert session.scalars(select(Connection)).all() == []
    assert any("took longer than 0.5s" in r.getMessage() for r in caplog.records)


# SQLite's batch migrations rebuild tables by reflection, which skips expression indexes
# (they are recreated by name): as in tests/test_migrations.py
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrading_retires_the_ids_that_earlier_deletions_left_in_grants(new_database_url,
                                                                         backend):
    url = normalise_database_url(new_database_url(backend))
    # The rows are written with today's models, then the schema goes back to before
    # principal ids were retired (0013), keeping them, and comes forward again.
    migrations.upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            session.add_all([Tenant(id="default", name="Default", settings={}),
                             User(tenant_id="default", username="alive")])
            session.flush()
            left = Integration(tenant_id="default", name="Left", slug="left", type="custom",
                               owner_id="team:gone")
            left.shares += [IntegrationShare(principal_id="ghost", access_level=3),
                            IntegrationShare(principal_id="alive", access_level=1)]
            session.add(left)
            session.flush()
            session.add_all([
                Connection(integration_id=left.id, holder="former", owner_id="former"),
                Connection(integration_id=left.id, holder="*", owner_id="alive"),
                Tag(tenant_id="default", name="ops", created_by="tagger"),
                SyncState(integration_id=left.id, run_as="scheduler")])
            session.commit()

        engine.dispose()
        migrations.downgrade(url, "0013")
        migrations.upgrade(url)

        with Session(engine) as session:
            retired = session.execute(select(RetiredPrincipal.principal_id,
                                             RetiredPrincipal.kind)).all()
            assert sorted(retired) == [("former", "user"), ("ghost", "user"),
                                       ("scheduler", "user"), ("tagger", "user"),
                                       ("team:gone", "team")]
            with pytest.raises(identity.PrincipalRetired):
                identity.create_team(session, "default", {"id": "gone", "name": "Gone"})
            session.rollback()
            with pytest.raises(identity.PrincipalRetired):
                identity.create_user(session, "default", {"username": "ghost"})
            session.rollback()
            assert identity.create_user(session, "default", {"username": "newcomer"}).id
    finally:
        engine.dispose()
