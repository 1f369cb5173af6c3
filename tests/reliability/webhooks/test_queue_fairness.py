"""Through a real worker process (``integration-hub worker``, default threads), on the
queue's SQLite storage and on Redis: two receivers that take minutes to answer do not hold
up another tenant's sync. The sync finishes while both deliveries are still being sent."""

from __future__ import annotations

import dataclasses

import pytest

from integration_hub import create_app
from tests.conftest import flush_queue
from tests.e2e.test_worker import WAIT, _hub_env, _redis_queue_url, wait_for_run, worker_process
from tests.secret_watch import WATCH, WatchedClient

LISTING = {"model": "contacts", "path": "/contacts", "itemsPath": "data"}


@pytest.mark.parametrize("queue", ["sqlite", "redis"])
def test_slow_receivers_do_not_hold_up_another_tenants_sync(app, admin, make_caller, upstream,
                                                            slow_receiver, tmp_path, queue):
    queue_url = f"sqlite:///{tmp_path / 'queue.db'}" if queue == "sqlite" else _redis_queue_url()
    settings = dataclasses.replace(app.config["HUB_SETTINGS"], queue_url=queue_url)
    hub = create_app(settings)
    hub.test_client_class = WatchedClient
    client = hub.test_client()
    slow = [slow_receiver(pause=1.0, size=120) for _ in range(2)]  # two minutes an answer
    hooks = []
    for number, server in enumerate(slow):
        secret = f"whsec-slow-receiver-{number}-0123456789"
        WATCH.remember([secret])
        made = client.post("/api/webhooks", headers=admin.headers, json={
            "url": f"{server.url}/hook", "events": ["integration.created"], "secret": secret})
        assert made.status_code == 201, made.get_data(as_text=True)
        hooks.append(made.get_json())
    boss = make_caller("boss", tenant="other", superuser=True)
    theirs = client.post("/api/integrations", headers=boss.headers, json={
        "name": "Contacts", "type": "custom", "authType": "none",
        "apiBaseUri": f"{upstream.url}/v1", "data": {"sync": LISTING}})
    assert theirs.status_code == 201, theirs.get_data(as_text=True)
    upstream.respond("/v1/contacts", {"json": {"data": [{"id": "x"}]}})
    env = {**_hub_env(settings, tmp_path, queue_url), "HUB_WEBHOOK_TIMEOUT": "60"}

    try:
        with worker_process(env, tmp_path / "worker.log"):
            told = client.post("/api/integrations", headers=admin.headers,
                               json={"name": "Told slowly", "type": "custom"})
            assert told.status_code == 201
            for server in slow:  # both deliveries are being sent, byte by byte
                server.wait_for_connections(1, timeout=WAIT)
            started = client.post(theirs.get_json()["_links"]["inf:sync"]["href"],
                                  headers=boss.headers)
            assert started.status_code == 202, started.get_data(as_text=True)
            run = wait_for_run(lambda: client.get(started.headers["Location"],
                                                  headers=boss.headers).get_json())
            deliveries = [client.get(hook["_links"]["inf:webhook-deliveries"]["href"],
                                     headers=admin.headers).get_json()[
                "_embedded"]["inf:webhook-delivery"] for hook in hooks]
            for server in slow:  # let the worker stop without waiting for the deadline
                server.hang_up()
        log = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
        assert run["status"] == "succeeded", (run, log)
        assert run["created"] == 1
        assert [[(d["status"], d["attemptCount"]) for d in listed] for listed in deliveries] == [
            [("pending", 0)], [("pending", 0)]]  # still in their first attempt
    finally:
        flush_queue(hub)
