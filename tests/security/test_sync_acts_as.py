"""Whose credentials a sync uses (docs/security.md, "Whom a sync acts as").

A per-user bearer integration: every user connects a personal token, and the real local
upstream records the path and the Authorization header of each call it receives. The
administrator sets ``data.sync`` with a schedule and shares the integration with bob at
level 2 (write). A run acts only as the user who last changed ``data.sync`` (or confirmed
it), and only while that user exists, is enabled, may read the integration and has a
usable connection; otherwise the run calls nothing and the schedule pauses.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from integration_hub.db.models import Integration, SyncState
from integration_hub.db.types import utcnow
from integration_hub.queue import job_queue
from tests.secret_watch import WATCH

ROOT_TOKEN = "root-personal-token-5512"
BOB_TOKEN = "bob-personal-token-7731"
LISTING = {"model": "contacts", "path": "/contacts", "itemsPath": "data",
           "schedule": {"intervalMinutes": 60}}
PRIVATE = {**LISTING, "path": "/me/private"}


@pytest.fixture
def bob(make_caller):
    return make_caller("bob")


@pytest.fixture
def personal(client, admin, make_integration, upstream):
    """The per-user bearer integration with the administrator's schedule, shared with bob
    at level 2; the administrator is connected with a personal token."""
    WATCH.remember([ROOT_TOKEN, BOB_TOKEN])
    integration = make_integration("Personal API", type="custom", auth_type="bearer",
                                   mode="per-user", api_base_uri=f"{upstream.url}/api",
                                   shares={"bob": 2}, data={"sync": LISTING})
    connect(client, admin, integration, ROOT_TOKEN)
    upstream.respond("/api/contacts", {"json": {"data": [{"id": "c1"}]}}, sticky=True)
    upstream.respond("/api/me/private", {"json": {"data": [{"id": "secret-1"}]}}, sticky=True)
    return integration


def connect(client, caller, integration, token):
    answer = client.post(f"/api/integrations/{integration}/connect", headers=caller.headers,
                         json={"token": token})
    assert answer.status_code == 201, answer.get_data(as_text=True)


def change_sync(client, caller, integration, sync):
    answer = client.patch(f"/api/integrations/{integration}", headers=caller.headers,
                          json={"data": {"sync": sync}})
    assert answer.status_code == 200, answer.get_data(as_text=True)


def sync_status(client, caller, integration):
    answer = client.get(f"/api/integrations/{integration}/sync", headers=caller.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def tick(app, session, run_queue, integration):
    """Make the schedule due, let the minute tick start it and the worker run it."""
    session.execute(update(SyncState).where(SyncState.integration_id == integration)
                    .values(next_run_at=utcnow() - timedelta(minutes=1)))
    session.commit()
    job_queue(app).start_scheduled()
    run_queue()


def calls(upstream):
    return [(r.path, r.header("Authorization")) for r in upstream.requests()]


def test_a_writer_who_changes_only_the_path_makes_the_schedule_act_as_them(
        app, client, session, admin, bob, personal, upstream, run_queue):
    assert sync_status(client, bob, personal)["runAs"] == "root"
    connect(client, bob, personal, BOB_TOKEN)

    change_sync(client, bob, personal, PRIVATE)

    status = sync_status(client, admin, personal)
    assert status["runAs"] == "bob" and status["runAsSince"] is not None
    assert status["paused"] is False and status["nextRunAt"] is not None
    tick(app, session, run_queue, personal)
    assert calls(upstream) == [("/api/me/private", f"Bearer {BOB_TOKEN}")]
    last = sync_status(client, admin, personal)["lastRun"]
    assert (last["trigger"], last["runAs"], last["status"]) == ("schedule", "bob", "succeeded")


def test_a_writer_without_a_connection_of_their_own_stops_the_schedule(
        app, client, session, admin, bob, personal, upstream, run_queue):
    change_sync(client, bob, personal, PRIVATE)

    tick(app, session, run_queue, personal)

    assert upstream.requests() == []  # never the administrator's token on bob's path
    status = sync_status(client, admin, personal)
    assert status["lastRun"]["errorCode"] == "integration_not_connected"
    assert status["paused"] is True and status["nextRunAt"] is None
    assert status["pauseReason"] == "integration_not_connected"
    job_queue(app).start_scheduled()
    assert run_queue() == 1  # the tick alone: a paused schedule starts nothing
    assert upstream.requests() == []


def test_revoking_the_share_of_whoever_changed_the_sync_stops_it_until_confirmed(
        app, client, session, admin, bob, personal, upstream, run_queue):
    connect(client, bob, personal, BOB_TOKEN)
    change_sync(client, bob, personal, PRIVATE)
    assert client.delete(f"/api/integrations/{personal}/shares/bob",
                         headers=admin.headers).status_code == 204

    tick(app, session, run_queue, personal)

    assert upstream.requests() == []
    status = sync_status(client, admin, personal)
    assert status["lastRun"]["errorCode"] == "sync_user_missing"
    assert status["paused"] is True and status["nextRunAt"] is None
    confirmed = client.post(f"/api/integrations/{personal}/sync/confirm", headers=admin.headers)
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    assert confirmed.get_json()["runAs"] == "root" and confirmed.get_json()["paused"] is False
    assert confirmed.get_json()["nextRunAt"] is not None
    tick(app, session, run_queue, personal)
    assert calls(upstream) == [("/api/me/private", f"Bearer {ROOT_TOKEN}")]


def test_a_disabled_principal_stops_the_schedule(app, client, session, admin, bob, personal,
                                                upstream, run_queue):
    connect(client, bob, personal, BOB_TOKEN)
    change_sync(client, bob, personal, PRIVATE)
    assert client.put("/api/users/bob", headers=admin.headers,
                      json={"enabled": False}).status_code == 200

    tick(app, session, run_queue, personal)

    assert upstream.requests() == []
    status = sync_status(client, admin, personal)
    assert status["lastRun"]["errorCode"] == "sync_user_missing"
    assert status["paused"] is True


def test_a_manual_run_acts_as_whoever_changed_the_sync_not_as_the_caller(
        client, admin, bob, personal, upstream, run_queue):
    change_sync(client, bob, personal, PRIVATE)

    answer = client.post(f"/api/integrations/{personal}/sync", headers=admin.headers)
    run_queue()

    assert answer.status_code == 202
    assert (answer.get_json()["runAs"], answer.get_json()["requestedBy"]) == ("bob", "root")
    assert upstream.requests() == []  # bob has no connection; root's token is not his
    run = client.get(answer.headers["Location"], headers=admin.headers).get_json()
    assert run["status"] == "failed" and run["errorCode"] == "integration_not_connected"


def test_a_run_queued_before_the_change_does_not_run_with_the_new_settings(
        client, admin, bob, personal, upstream, run_queue):
    answer = client.post(f"/api/integrations/{personal}/sync", headers=admin.headers)
    change_sync(client, bob, personal, PRIVATE)

    run_queue()

    assert upstream.requests() == []
    run = client.get(answer.headers["Location"], headers=admin.headers).get_json()
    assert run["status"] == "failed" and run["errorCode"] == "sync_changed"


def test_saving_other_fields_or_the_same_sync_keeps_the_principal(client, admin, bob, personal):
    before = sync_status(client, admin, personal)
    assert client.patch(f"/api/integrations/{personal}", headers=bob.headers,
                        json={"description": "bob was here"}).status_code == 200
    change_sync(client, bob, personal, dict(LISTING))  # sent back unchanged, keys reordered
    after = sync_status(client, admin, personal)
    assert (after["runAs"], after["runAsSince"]) == ("root", before["runAsSince"])


def test_no_one_names_another_user_as_the_one_a_sync_acts_as(client, admin, bob, personal):
    named = client.patch(f"/api/integrations/{personal}", headers=admin.headers,
                         json={"data": {"sync": {**LISTING, "runAs": "bob"}}})
    assert named.status_code == 422
    assert sync_status(client, admin, personal)["runAs"] == "root"
    confirmed = client.post(f"/api/integrations/{personal}/sync/confirm", headers=bob.headers)
    assert confirmed.status_code == 200 and confirmed.get_json()["runAs"] == "bob"


def test_a_sync_changed_outside_the_api_waits_for_confirmation(
        app, client, session, admin, personal, upstream, run_queue):
    """Settings written without a principal (before this rule existed, or by hand in the
    database) run for no one until someone with write access confirms them."""
    integration = session.get(Integration, personal)
    integration.data = {"sync": PRIVATE}
    session.commit()

    refused = client.post(f"/api/integrations/{personal}/sync", headers=admin.headers)
    assert refused.status_code == 409 and refused.get_json()["code"] == "sync_unconfirmed"
    assert client.patch(f"/api/integrations/{personal}", headers=admin.headers,
                        json={"description": "saved, data.sync untouched"}).status_code == 200
    assert sync_status(client, admin, personal)["confirmed"] is False
    tick(app, session, run_queue, personal)
    assert upstream.requests() == []
    status = sync_status(client, admin, personal)
    assert status["paused"] is True and status["lastRun"]["errorCode"] == "sync_unconfirmed"

    confirmed = client.post(f"/api/integrations/{personal}/sync/confirm", headers=admin.headers)
    assert confirmed.get_json()["confirmed"] is True and confirmed.get_json()["paused"] is False
    tick(app, session, run_queue, personal)
    assert calls(upstream) == [("/api/me/private", f"Bearer {ROOT_TOKEN}")]
