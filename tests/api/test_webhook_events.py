"""Every event type reaches a subscribed webhook once, signed, after the change commits:
the change is made over HTTP, the real queue runs the delivery task (in this process)
and the real receiver checks the signature."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from integration_hub.db.models import Connection, WebhookDelivery
from integration_hub.db.session import db_session, transaction
from integration_hub.identity import directory as identity
from integration_hub.integrations import store as integrations
from integration_hub.queue import job_queue

API_KEY = "integration-api-key-0815"


def delivered(receiver, run_queue, path="/hook"):
    run_queue()
    got = receiver.deliveries(path)
    assert all(d.signature_valid for d in got), [(d.event, d.status) for d in got]
    return got


def test_integration_lifecycle_events_carry_the_representation(client, admin, receiver, run_queue,
                                                                make_webhook):
    make_webhook(["integration.created", "integration.updated", "integration.deleted"])

    created = client.post("/api/integrations", headers=admin.headers, json={
        "name": "Billing", "type": "custom", "authType": "apikey", "apiKey": API_KEY,
        "apiBaseUri": "https://billing.example.com/v1"})
    assert created.status_code == 201
    integration = created.get_json()["id"]
    client.put(f"/api/integrations/{integration}", headers=admin.headers,
               json={"description": "invoices"})
    client.delete(f"/api/integrations/{integration}", headers=admin.headers)

    got = delivered(receiver, run_queue)
    assert [d.event for d in got] == ["integration.created", "integration.updated",
                                      "integration.deleted"]
    bodies = [d.json for d in got]
    assert [b["type"] for b in bodies] == [d.event for d in got]
    assert len({b["id"] for b in bodies}) == 3
    assert all(b["actor"] == "root" and b["tenant"] == "default" for b in bodies)
    assert bodies[1]["data"]["description"] == "invoices"
    assert bodies[0]["data"]["_links"]["self"]["href"] == \
        f"http://localhost/api/integrations/{integration}"
    assert all(API_KEY not in d.body.decode() for d in got)
    assert got[0].headers["x-hub-event-id"] == bodies[0]["id"]


def events(got):
    return [d.event for d in got]


def test_share_events_for_new_changed_and_removed_shares(client, admin, member, make_integration,
                                                         receiver, run_queue, make_webhook):
    integration = make_integration()
    make_webhook(["share.created", "share.updated", "share.deleted"])
    share = f"/api/integrations/{integration}/shares/mia"

    client.put(share, headers=admin.headers, json={"accessLevel": 1})
    client.put(share, headers=admin.headers, json={"accessLevel": 1})  # unchanged: no event
    client.put(share, headers=admin.headers, json={"accessLevel": 2})
    assert client.delete(share, headers=admin.headers).status_code == 204

    got = delivered(receiver, run_queue)
    assert events(got) == ["share.created", "share.updated", "share.deleted"]
    levels = [d.json["data"]["accessLevel"] for d in got]
    assert levels == [1, 2, 2]
    data = got[0].json["data"]
    assert data["principalId"] == "mia"
    assert data["_embedded"]["inf:user"]["type"] == "user"
    assert data["_links"]["inf:integration"]["href"] == \
        f"http://localhost/api/integrations/{integration}"


def test_owner_transfer_is_an_integration_update(client, admin, member, make_integration, receiver,
                                                 run_queue, make_webhook):
    integration = make_integration()
    make_webhook(["integration.updated"])
    answer = client.put(f"/api/integrations/{integration}/owner", headers=admin.headers,
                        json={"principalId": "mia"})
    assert answer.status_code == 200

    got = delivered(receiver, run_queue)
    assert events(got) == ["integration.updated"]
    assert got[0].json["data"]["ownerId"] == "mia"


def test_connection_created_reconnected_and_deleted(client, member, make_integration, receiver,
                                                    run_queue, make_webhook):
    integration = make_integration(type="custom", auth_type="apikey", mode="per-user",
                                   api_base_uri="https://api.example.com", shares={"mia": 1})
    make_webhook(["connection.created", "connection.recovered", "connection.deleted"])
    connect = f"/api/integrations/{integration}/connect"

    assert client.post(connect, headers=member.headers,
                       json={"apiKey": "mias-own-key-1"}).status_code == 201
    # a new key for a working connection is no event
    assert client.post(connect, headers=member.headers,
                       json={"apiKey": "mias-own-key-2"}).status_code == 201
    assert client.delete(f"/api/integrations/{integration}/connection",
                         headers=member.headers).status_code == 204

    got = delivered(receiver, run_queue)
    assert events(got) == ["connection.created", "connection.deleted"]
    assert got[0].json["actor"] == "mia"
    assert got[0].json["data"]["integrationId"] == integration
    text = " ".join(d.body.decode() for d in got)
    assert "mias-own-key" not in text


def test_refresh_reauth_and_recovery_events(client, member, oauth_server, oauth_integration,
                                            receiver, run_queue, make_webhook):
    integration = oauth_integration(shares={"mia": 1})
    make_webhook(["connection.refreshed", "connection.reauth_required", "connection.recovered"])
    connect = f"/api/integrations/{integration}/connect"
    account = f"/api/integrations/{integration}/account?refresh=true"
    client.post(connect, headers=member.headers, json={
        "accessToken": "old-access-token", "refreshToken": "refresh-token-1", "expiresIn": 0})

    assert client.get(account, headers=member.headers).status_code == 200   # refreshed
    client.post(connect, headers=member.headers, json={
        "accessToken": "old-access-token", "refreshToken": "revoked-token", "expiresIn": 0})
    oauth_server.queue_token_responses({"status": 400, "body": {"error": "invalid_grant"}})
    assert client.get(account, headers=member.headers).status_code == 409  # reauth required
    assert client.get(account, headers=member.headers).status_code == 409  # told only once
    assert client.post(connect, headers=member.headers, json={
        "accessToken": "new-access-token", "refreshToken": "refresh-token-2",
        "expiresIn": 3600}).status_code == 201                               # recovered

    got = delivered(receiver, run_queue)
    assert events(got) == ["connection.refreshed", "connection.reauth_required",
                           "connection.recovered"]
    assert [d.json["data"]["status"] for d in got] == ["active", "reauth_required", "active"]
    text = " ".join(d.body.decode() for d in got)
    assert "access-token" not in text and "refresh-token" not in text


def test_sync_completed_and_failed(client, member, make_integration, upstream, receiver, run_queue,
                                   make_webhook):
    integration = make_integration(
        "Contacts", type="custom", auth_type="apikey", mode="shared", api_key=API_KEY,
        api_base_uri=f"{upstream.url}/v1", shares={"mia": 2},
        data={"sync": {"model": "contacts", "path": "/contacts", "itemsPath": "data"}})
    make_webhook(["sync.completed", "sync.failed"])
    sync = f"/api/integrations/{integration}/sync"

    upstream.respond("/v1/contacts", {"json": {"data": [{"id": 1}, {"id": 2}]}})
    assert client.post(sync, headers=member.headers).status_code == 202
    run_queue()
    upstream.respond("/v1/contacts", {"status": 500, "json": {"error": "down"}})
    assert client.post(sync, headers=member.headers).status_code == 202
    run_queue()

    got = delivered(receiver, run_queue)
    assert events(got) == ["sync.completed", "sync.failed"]
    completed, failed = (d.json["data"] for d in got)
    assert completed["status"] == "succeeded" and completed["created"] == 2
    assert failed["status"] == "failed" and failed["errorCode"]
    assert completed["_links"]["self"]["href"].startswith(
        f"http://localhost/api/integrations/{integration}/sync/runs/")
    assert all(d.json["actor"] == "mia" for d in got)
    assert API_KEY not in " ".join(d.body.decode() for d in got)


@pytest.mark.parametrize("event", ["integration.created", "*"])
def test_every_subscribed_webhook_gets_the_event_once_with_the_same_event_id(
        client, admin, receiver, run_queue, make_webhook, event):
    make_webhook([event], path="/one")
    make_webhook(["integration.created", "share.created"], path="/two")
    make_webhook(["share.created"], path="/not-subscribed")
    make_webhook(["*"], path="/disabled", enabled=False)

    client.post("/api/integrations", headers=admin.headers, json={"name": "Once", "type": "custom"})
    run_queue()
    run_queue()  # nothing is sent twice

    one, two = delivered(receiver, run_queue, "/one"), delivered(receiver, run_queue, "/two")
    assert events(one) == events(two) == ["integration.created"]
    assert one[0].json["id"] == two[0].json["id"]
    assert one[0].headers["x-hub-delivery"] != two[0].headers["x-hub-delivery"]
    assert receiver.deliveries("/not-subscribed") == receiver.deliveries("/disabled") == []


class Refused(Exception):
    """Something going wrong after the change was made, before its transaction commits."""


def test_a_rolled_back_change_sends_nothing(app, session, admin, receiver, run_queue, make_webhook):
    make_webhook(["integration.created"])
    with app.app_context():
        user = identity.get_user(db_session(), "default", admin.username)
        with pytest.raises(Refused), transaction() as writing:
            integrations.create(writing, user, {"name": "Never", "type": "custom"})
            assert writing.scalars(select(WebhookDelivery)).all() != []  # written, not committed
            raise Refused

    assert job_queue(app).webhooks.pending_count() == 0
    assert run_queue() == 0
    assert session.scalars(select(WebhookDelivery)).all() == []
    assert receiver.deliveries() == []


def test_deliveries_reach_the_queue_only_when_the_change_commits(app, admin, receiver, run_queue,
                                                                 make_webhook):
    make_webhook(["integration.created"])
    huey = job_queue(app).webhooks
    with app.app_context():
        user = identity.get_user(db_session(), "default", admin.username)
        with transaction() as writing:
            integrations.create(writing, user, {"name": "Later", "type": "custom"})
            assert huey.pending_count() == 0
        assert huey.pending_count() == 1

    assert run_queue() == 1
    assert events(receiver.deliveries()) == ["integration.created"]


def test_a_refresh_succeeding_after_failed_ones_is_a_recovery(app, client, session, member,
                                                              oauth_server, oauth_integration,
                                                              receiver, run_queue, make_webhook):
    integration = oauth_integration(shares={"mia": 1})
    make_webhook(["connection.refreshed", "connection.recovered"])
    client.post(f"/api/integrations/{integration}/connect", headers=member.headers, json={
        "accessToken": "old-access-token", "refreshToken": "refresh-token-1", "expiresIn": 0})
    account = f"/api/integrations/{integration}/account?refresh=true"
    oauth_server.queue_token_responses({"status": 503, "body": {"error": "temporarily_unavailable"}})
    assert client.get(account, headers=member.headers).status_code == 502
    assert delivered(receiver, run_queue) == []  # a transient failure is no event
    session.execute(update(Connection).where(Connection.integration_id == integration)
                    .values(retry_after=None))  # the backoff is over
    session.commit()

    assert client.get(account, headers=member.headers).status_code == 200

    got = delivered(receiver, run_queue)
    assert events(got) == ["connection.refreshed", "connection.recovered"]
    assert got[0].json["id"] != got[1].json["id"]
