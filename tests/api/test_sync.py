"""Syncs end to end: trigger over HTTP, the real queue runs the job (in this process), the
recording upstream serves the listing, and the records and run status are read back."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from integration_hub.db.models import ProxyRequest, SyncRun, SyncState
from integration_hub.db.types import utcnow
from integration_hub.queue import job_queue

API_KEY = "sync-upstream-key-4711"
CURSOR = {"model": "contacts", "path": "/contacts", "itemsPath": "data",
          "pagination": {"style": "cursor", "cursorPath": "meta.next"}}


@pytest.fixture
def synced(make_integration, upstream):
    """A shared API-key integration on the recording upstream with data.sync; mia may write."""

    def make(sync=None, shares=None, **values):
        settings = {"type": "custom", "auth_type": "apikey", "mode": "shared",
                    "api_base_uri": f"{upstream.url}/v1", "api_key": API_KEY,
                    "shares": shares or {"mia": 2}, "data": {"sync": sync or CURSOR}, **values}
        return make_integration("Contacts", **settings)

    return make


def trigger(client, caller, integration):
    return client.post(f"/api/integrations/{integration}/sync", headers=caller.headers)


def records_of(client, caller, integration, model="contacts", deleted=False):
    answer = client.get(f"/api/integrations/{integration}/records", headers=caller.headers,
                        query_string={"model": model, "limit": 500, "includeDeleted": deleted})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return {item["id"]: item for item in answer.get_json()["_embedded"]["inf:record"]}


def run_of(client, caller, answer):
    followed = client.get(answer.get_json()["_links"]["self"]["href"], headers=caller.headers)
    assert followed.status_code == 200
    return followed.get_json()


def page(items, next_cursor=None):
    return {"json": {"data": items, "meta": {"next": next_cursor}}}


def test_cursor_sync_from_trigger_to_records_waits_out_a_429(client, member, upstream, synced,
                                                             run_queue):
    integration = synced()
    upstream.respond("/v1/contacts",
                     page([{"id": 1, "name": "Ada"}, {"id": "b2", "name": "Bob"}], "c-2"),
                     {"status": 429, "headers": [("Retry-After", "1")], "json": {"slow": "down"}},
                     page([{"id": 3, "name": "Cy", "tags": ["x"]}]))

    answer = trigger(client, member, integration)

    assert answer.status_code == 202
    queued = answer.get_json()
    assert queued["status"] == "queued" and queued["trigger"] == "manual"
    assert answer.headers["Location"].endswith(queued["_links"]["self"]["href"])
    assert upstream.requests() == []  # nothing happens until a worker takes the job
    assert run_queue() == 1

    run = run_of(client, member, answer)
    assert run["status"] == "succeeded", run
    assert (run["pages"], run["fetched"], run["created"], run["updated"], run["deleted"]) == \
        (2, 3, 3, 0, 0)
    sent = upstream.requests()
    assert [r.query for r in sent] == ["", "cursor=c-2", "cursor=c-2"]  # the 429 was retried
    assert {r.header("X-API-Key") for r in sent} == {API_KEY}
    stored = records_of(client, member, integration)
    assert stored["3"]["data"] == {"id": 3, "name": "Cy", "tags": ["x"]}
    assert set(stored) == {"1", "b2", "3"}


def test_page_number_sync_stops_at_a_short_page(client, member, upstream, synced, run_queue):
    integration = synced({"path": "/people", "pagination": {
        "style": "page", "pageParam": "p", "sizeParam": "per_page", "size": 2},
        "params": {"active": True}})
    upstream.respond("/v1/people", {"json": [{"id": 1}, {"id": 2}]},
                     {"json": [{"id": 3}, {"id": 4}]}, {"json": [{"id": 5}]})

    trigger(client, member, integration)
    run_queue()

    assert [r.query for r in upstream.requests()] == [
        "active=true&p=1&per_page=2", "active=true&p=2&per_page=2", "active=true&p=3&per_page=2"]
    assert set(records_of(client, member, integration, "resources")) == {"1", "2", "3", "4", "5"}


def test_link_header_sync_follows_absolute_and_relative_next_links(client, member, upstream,
                                                                   synced, run_queue):
    integration = synced({"path": "/orders", "model": "orders", "pagination": "link"})
    upstream.respond(
        "/v1/orders",
        {"json": [{"id": "o1"}], "headers": [("Link", f'<{upstream.url}/v1/orders?after=o1>; '
                                                      'rel="next", </v1/orders>; rel="first"')]},
        {"json": [{"id": "o2"}], "headers": [("Link", '</v1/orders?after=o2>; rel="next"')]},
        {"json": [{"id": "o3"}], "headers": [("Link", '</v1/orders>; rel="first"')]})

    trigger(client, member, integration)
    run_queue()

    assert [r.query for r in upstream.requests()] == ["", "after=o1", "after=o2"]
    assert set(records_of(client, member, integration, "orders")) == {"o1", "o2", "o3"}


def test_a_next_link_outside_the_base_fails_the_run_and_is_not_followed(
        client, member, upstream, synced, run_queue):
    integration = synced({"path": "/orders", "pagination": "link"})
    upstream.respond("/v1/orders", {"json": [{"id": "o1"}], "headers": [
        ("Link", f'<{upstream.url}/admin/orders?page=2>; rel="next"')]})

    answer = trigger(client, member, integration)
    run_queue()
    run = run_of(client, member, answer)

    assert run["status"] == "failed" and run["errorCode"] == "url_outside_base"
    assert "page 2" in run["error"]
    assert all(r.path == "/v1/orders" for r in upstream.requests())
    assert records_of(client, member, integration, "resources") == {}


def test_a_second_sync_updates_changed_marks_gone_and_keeps_unchanged(
        client, member, upstream, synced, run_queue):
    integration = synced()
    upstream.respond("/v1/contacts", page([{"id": 1, "v": 1}, {"id": 2, "v": 1}, {"id": 3}]))
    trigger(client, member, integration)
    run_queue()
    upstream.respond("/v1/contacts", page([{"id": 1, "v": 2}, {"id": 3}, {"id": 4}]))

    answer = trigger(client, member, integration)
    run_queue()

    run = run_of(client, member, answer)
    assert (run["created"], run["updated"], run["deleted"]) == (1, 1, 1)
    live = records_of(client, member, integration)
    assert set(live) == {"1", "3", "4"} and live["1"]["data"]["v"] == 2
    everything = records_of(client, member, integration, deleted=True)
    assert everything["2"]["deleted"] is True and everything["2"]["data"] == {"id": 2, "v": 1}


def test_a_failed_sync_keeps_the_previous_records_and_reports_the_error(
        client, member, upstream, synced, run_queue):
    integration = synced()
    upstream.respond("/v1/contacts", page([{"id": 1, "v": "old"}, {"id": 2}]))
    trigger(client, member, integration)
    run_queue()
    before = records_of(client, member, integration)
    upstream.respond("/v1/contacts", page([{"id": 1, "v": "new"}], "c-2"),
                     {"status": 404, "json": {"error": "cursor expired"}})

    answer = trigger(client, member, integration)
    run_queue()

    run = run_of(client, member, answer)
    assert run["status"] == "failed" and run["errorCode"] == "sync_upstream_error"
    assert run["error"] == "page 2: the upstream answered 404"
    assert records_of(client, member, integration) == before
    status = client.get(f"/api/integrations/{integration}/sync", headers=member.headers).get_json()
    assert status["state"] == "idle" and status["lastRun"]["id"] == run["id"]
    assert status["lastRun"]["status"] == "failed"


@pytest.mark.parametrize("answer, code", [
    ({"body": "<html>", "headers": [("Content-Type", "text/html")]}, "sync_page_invalid"),
    ({"json": {"data": {"not": "a list"}}}, "sync_page_invalid"),
    ({"json": {"data": [{"name": "no id"}]}}, "sync_page_invalid"),
    ({"json": {"data": [7]}}, "sync_page_invalid"),
])
def test_unusable_pages_fail_the_run_with_the_reason(client, member, upstream, synced, run_queue,
                                                     answer, code):
    integration = synced()
    upstream.respond("/v1/contacts", answer)
    run = trigger(client, member, integration)
    run_queue()
    failed = run_of(client, member, run)
    assert failed["status"] == "failed" and failed["errorCode"] == code
    assert failed["error"].startswith("page 1")


def test_a_second_trigger_while_one_is_queued_is_409_until_it_finished(
        client, member, upstream, synced, run_queue):
    integration = synced()
    upstream.respond("/v1/contacts", page([{"id": 1}]))
    assert trigger(client, member, integration).status_code == 202

    refused = trigger(client, member, integration)

    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["code"] == "sync_in_progress"
    run_queue()
    assert trigger(client, member, integration).status_code == 202


def test_simultaneous_triggers_start_exactly_one_run(app, session, member, synced):
    integration = synced()
    barrier = threading.Barrier(8)
    statuses = []

    def call():
        client = app.test_client()
        barrier.wait()
        statuses.append(trigger(client, member, integration).status_code)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(statuses) == [202] + [409] * 7
    assert len(session.scalars(select(SyncRun).where(SyncRun.integration_id == integration)).all()) == 1
    assert job_queue(app).huey.pending_count() == 1


def test_a_run_whose_worker_vanished_is_taken_over_after_its_lease(
        client, session, member, upstream, synced, run_queue):
    integration = synced()
    lost = trigger(client, member, integration).get_json()
    job_queue(client.application).huey.flush()  # the worker that took it died with it
    session.execute(update(SyncState).values(lease_until=utcnow() - timedelta(seconds=1)))
    session.commit()
    upstream.respond("/v1/contacts", page([{"id": 1}]))

    answer = trigger(client, member, integration)
    run_queue()

    assert answer.status_code == 202
    old = client.get(lost["_links"]["self"]["href"], headers=member.headers).get_json()
    assert old["status"] == "failed" and old["errorCode"] == "sync_lost"
    assert run_of(client, member, answer)["status"] == "succeeded"


def test_a_run_delivered_twice_runs_once(app, client, member, upstream, synced, run_queue):
    integration = synced()
    upstream.respond("/v1/contacts", page([{"id": 1}]), sticky=True)
    run = trigger(client, member, integration).get_json()
    job_queue(app).enqueue_sync(run["id"])

    assert run_queue() == 2
    assert len(upstream.requests()) == 1


def test_sync_calls_appear_in_the_request_log_as_the_acting_user(
        client, session, member, upstream, synced, run_queue):
    integration = synced()
    upstream.respond("/v1/contacts", page([{"id": 1}]))
    assert client.post(f"/api/integrations/{integration}/sync/confirm",
                       headers=member.headers).status_code == 200  # mia takes it over
    trigger(client, member, integration)
    run_queue()
    logged = session.scalars(select(ProxyRequest).where(
        ProxyRequest.integration_id == integration)).all()
    assert [(r.username, r.method, r.path, r.status) for r in logged] == [
        ("mia", "GET", "/v1/contacts", 200)]


def test_who_may_start_and_read_a_sync(client, admin, member, make_caller, synced):
    reader = make_caller("rita")
    stranger = make_caller("sam")
    outsider = make_caller("olga", tenant="other")
    integration = synced(shares={"mia": 2, "rita": 1})

    assert trigger(client, reader, integration).status_code == 403
    assert client.get(f"/api/integrations/{integration}/sync",
                      headers=reader.headers).status_code == 200
    for caller in (stranger, outsider):
        assert trigger(client, caller, integration).status_code == 404
        assert client.get(f"/api/integrations/{integration}/sync",
                          headers=caller.headers).status_code == 404
    assert trigger(client, admin, integration).status_code == 202


def test_without_sync_settings_or_when_disabled_a_trigger_is_refused(client, admin, make_integration,
                                                                     synced):
    bare = make_integration("Bare", auth_type="none")
    disabled = synced(enabled=False)

    unconfigured = trigger(client, admin, bare)
    assert unconfigured.status_code == 409
    assert unconfigured.get_json()["code"] == "sync_not_configured"
    status = client.get(f"/api/integrations/{bare}/sync", headers=admin.headers).get_json()
    assert status["configured"] is False and status["state"] == "idle"
    assert trigger(client, admin, disabled).status_code == 409


def test_invalid_sync_settings_are_refused_when_saved(client, admin):
    answer = client.post("/api/integrations", headers=admin.headers, json={
        "name": "Bad sync", "type": "custom", "authType": "none",
        "apiBaseUri": "https://api.example.com", "data": {"sync": {
            "path": "/x", "schedule": {"cron": "61 * * * *"}}}})
    assert answer.status_code == 422
    assert "data.sync.schedule.cron" in answer.get_json()["errors"]
    pagination = client.post("/api/integrations", headers=admin.headers, json={
        "name": "Bad sync", "type": "custom", "authType": "none",
        "apiBaseUri": "https://api.example.com", "data": {"sync": {
            "path": "/x", "pagination": "offset"}}})
    assert pagination.status_code == 422


def test_schedule_plans_the_next_run_and_the_tick_starts_it(
        app, client, session, admin, member, upstream, synced, run_queue):
    integration = synced({**CURSOR, "schedule": {"intervalMinutes": 30}})
    status = client.get(f"/api/integrations/{integration}/sync", headers=member.headers).get_json()
    assert status["schedule"] == {"intervalMinutes": 30} and status["runAs"] == "root"
    planned = status["nextRunAt"]
    assert planned is not None
    upstream.respond("/v1/contacts", page([{"id": 1}]))

    job_queue(app).start_scheduled()  # the minute tick: nothing is due yet
    run_queue()
    assert upstream.requests() == []

    session.execute(update(SyncState).values(next_run_at=utcnow() - timedelta(minutes=1)))
    session.commit()
    job_queue(app).start_scheduled()
    assert run_queue() == 2  # the tick, then the run it started

    status = client.get(f"/api/integrations/{integration}/sync", headers=member.headers).get_json()
    assert status["lastRun"]["trigger"] == "schedule" and status["lastRun"]["status"] == "succeeded"
    assert status["lastRun"]["runAs"] == "root"
    assert status["nextRunAt"] > planned  # the following slot, about 30 minutes from now
    assert len(upstream.requests()) == 1


def test_a_due_schedule_skips_its_slot_while_a_run_is_going(app, client, session, member, synced,
                                                           run_queue):
    integration = synced({**CURSOR, "schedule": {"cron": "*/5 * * * *"}})
    trigger(client, member, integration)
    session.execute(update(SyncState).values(next_run_at=utcnow() - timedelta(minutes=1)))
    session.commit()

    job_queue(app).start_scheduled()
    job_queue(app).huey.dequeue()  # take the manual run out of the way: only the tick is left
    assert run_queue() == 1

    runs = session.scalars(select(SyncRun).where(SyncRun.integration_id == integration)).all()
    assert [run.trigger for run in runs] == ["manual"]
    session.expire_all()
    assert session.get(SyncState, integration).next_run_at > utcnow()


def test_changing_or_removing_the_schedule_replans(client, admin, synced):
    integration = synced({**CURSOR, "schedule": {"intervalMinutes": 600}})
    url = f"/api/integrations/{integration}/sync"
    first = client.get(url, headers=admin.headers).get_json()["nextRunAt"]

    client.patch(f"/api/integrations/{integration}", headers=admin.headers,
                 json={"data": {"sync": {**CURSOR, "schedule": {"intervalMinutes": 5}}}})
    sooner = client.get(url, headers=admin.headers).get_json()
    client.put(f"/api/integrations/{integration}", headers=admin.headers,
               json={"data": {"sync": CURSOR}})  # PUT replaces data: no schedule left
    removed = client.get(url, headers=admin.headers).get_json()
    client.patch(f"/api/integrations/{integration}", headers=admin.headers,
                 json={"data": {"sync": {"schedule": {"intervalMinutes": 5}}}})
    again = client.get(url, headers=admin.headers).get_json()
    client.patch(f"/api/integrations/{integration}", headers=admin.headers,
                 json={"data": {"sync": {"schedule": None}}})  # a merge patch removes it
    removed_by_patch = client.get(url, headers=admin.headers).get_json()

    assert sooner["nextRunAt"] < first and sooner["schedule"] == {"intervalMinutes": 5}
    assert removed["nextRunAt"] is None and removed["schedule"] is None
    assert again["nextRunAt"] is not None and again["schedule"] == {"intervalMinutes": 5}
    assert removed_by_patch["nextRunAt"] is None and removed_by_patch["schedule"] is None


def test_runs_are_listed_newest_first(client, member, upstream, synced, run_queue):
    integration = synced()
    upstream.respond("/v1/contacts", page([{"id": 1}]), sticky=True)
    ids = []
    for _ in range(3):
        ids.append(trigger(client, member, integration).get_json()["id"])
        run_queue()

    listed = client.get(f"/api/integrations/{integration}/sync/runs?limit=2",
                        headers=member.headers).get_json()

    assert listed["total"] == 3
    assert [run["id"] for run in listed["_embedded"]["inf:sync-run"]] == ids[::-1][:2]
    assert "next" in listed["_links"]


def test_a_sync_acting_as_a_user_who_lost_access_fails(client, session, admin, member, upstream,
                                                       synced, run_queue):
    integration = synced()
    client.patch(f"/api/integrations/{integration}", headers=member.headers,
                 json={"data": {"sync": {**CURSOR, "model": "people"}}})  # runs act as mia now
    answer = trigger(client, member, integration)
    client.delete(f"/api/integrations/{integration}/shares/mia", headers=admin.headers)

    run_queue()

    run = run_of(client, admin, answer)
    assert run["status"] == "failed" and run["errorCode"] == "sync_user_missing"
    assert upstream.requests() == []


def test_the_integration_links_its_records_and_sync(client, admin, synced):
    integration = synced()
    links = client.get(f"/api/integrations/{integration}", headers=admin.headers).get_json()["_links"]
    for rel in ("inf:records", "inf:store", "inf:import", "inf:sync"):
        assert links[rel]["href"].startswith(f"/api/integrations/{integration}/")
    status = client.get(links["inf:sync"]["href"], headers=admin.headers)
    assert status.status_code == 200
    assert client.get(status.get_json()["_links"]["inf:sync-runs"]["href"],
                      headers=admin.headers).status_code == 200
