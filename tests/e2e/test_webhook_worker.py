"""Webhook deliveries sent by a real worker process: the first attempt fails, the
worker's own scheduler retries after the backoff, and the receiver sees the same
signed body twice (queue on SQLite storage and on Redis)."""

from __future__ import annotations

import dataclasses
import time

import pytest

from integration_hub import create_app
from integration_hub.queue import job_queue
from tests.conftest import flush_queue
from tests.e2e.test_worker import WAIT, _hub_env, _redis_queue_url, worker_process
from tests.secret_watch import WatchedClient


@pytest.mark.parametrize("queue", ["sqlite", "redis"])
def test_a_worker_delivers_and_retries_after_the_backoff(app, admin, receiver, tmp_path, queue):
    queue_url = f"sqlite:///{tmp_path / 'queue.db'}" if queue == "sqlite" else _redis_queue_url()
    settings = dataclasses.replace(app.config["HUB_SETTINGS"], queue_url=queue_url)
    hub = create_app(settings)
    hub.test_client_class = WatchedClient
    client = hub.test_client()
    secret = "worker-webhook-secret-5521"
    receiver.expect_secret("/hook", secret)
    receiver.fail("/hook", times=1, status=503)
    hook = client.post("/api/webhooks", headers=admin.headers, json={
        "url": receiver.url("/hook"), "events": ["integration.created"], "secret": secret})
    assert hook.status_code == 201
    deliveries = hook.get_json()["_links"]["inf:webhook-deliveries"]["href"]
    env = {**_hub_env(settings, tmp_path, queue_url), "HUB_WEBHOOK_RETRY_BASE": "1"}

    try:
        with worker_process(env, tmp_path / "worker.log"):
            created = client.post("/api/integrations", headers=admin.headers,
                                  json={"name": "Told twice", "type": "custom"})
            assert created.status_code == 201
            got = receiver.wait_for(2, "/hook", timeout=30)
            delivery = _settled(client, admin, deliveries)
        log = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
        assert [d.status for d in got] == [503, 200], log
        assert all(d.signature_valid for d in got)
        assert got[0].body == got[1].body
        assert got[0].json["data"]["id"] == created.get_json()["id"]
        assert [a["responseStatus"] for a in delivery["attempts"]] == [503, 200]
        assert [huey.pending_count() for huey in job_queue(hub).queues] == [0, 0]
    finally:
        flush_queue(hub)


def _settled(client, admin, deliveries: str) -> dict:
    """The newest delivery once it is no longer pending (the worker records the attempt
    just after the receiver answered)."""
    end = time.monotonic() + WAIT
    while True:
        delivery = client.get(deliveries, headers=admin.headers).get_json()[
            "_embedded"]["inf:webhook-delivery"][0]
        if delivery["status"] != "pending" or time.monotonic() > end:
            return delivery
        time.sleep(0.1)
