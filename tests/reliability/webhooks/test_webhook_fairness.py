"""Slow receivers cannot take the delivery queue from others: one webhook has one delivery
in flight at a time, one tenant two (``HUB_WEBHOOK_TENANT_CONCURRENCY``); a delivery that
must wait is handed to the queue again when a slot frees. Busy workers are threads of
this test running an attempt against a receiver trickling its answer, until the test
hangs the receiver up."""

from __future__ import annotations

from integration_hub.queue import job_queue
from tests.conftest import drain_queue, flush_queue
from tests.reliability.webhooks.test_webhook_attempts import (
    PATIENT,
    in_background,
    only_delivery,
    ping,
)


def test_a_webhook_gets_one_delivery_at_a_time(hub, hub_client, admin, slow_receiver,
                                               webhook_to):
    slow = slow_receiver(pause=1.0, size=60)
    hook = webhook_to(slow)
    first, second = ping(hub_client, admin, hook), ping(hub_client, admin, hook)
    flush_queue(hub)

    running = in_background(hub, first, timeout=PATIENT)
    slow.wait_for_connections(1)
    job_queue(hub).deliver(second)
    drain_queue(hub)  # a free worker takes the second delivery: the receiver is busy

    assert slow.accepted() == 1
    slow.hang_up()
    running.join()
    drain_queue(hub)  # the first attempt's end handed the waiting one back to the queue
    assert slow.accepted() == 2
    tried = [hub_client.get(f"/api/webhooks/{hook}/deliveries/{delivery_id}",
                            headers=admin.headers).get_json()["attempts"]
             for delivery_id in (first, second)]
    assert [[a["errorCode"] for a in attempts] for attempts in tried] == [
        ["receiver_unreachable"], ["receiver_timeout"]]


def test_a_tenant_gets_two_deliveries_in_flight_and_others_are_not_kept_waiting(
        hub, hub_client, admin, make_caller, receiver, slow_receiver, webhook_to):
    slow = [slow_receiver(pause=1.0, size=60) for _ in range(3)]
    hooks = [webhook_to(server) for server in slow]
    boss = make_caller("boss", tenant="other", superuser=True)
    receiver.expect_secret("/other", "whsec-other-tenant-0123456789")
    elsewhere = hub_client.post("/api/webhooks", headers=boss.headers, json={
        "url": receiver.url("/other"), "events": ["*"], "secret": "whsec-other-tenant-0123456789"})
    assert elsewhere.status_code == 201
    pings = [ping(hub_client, admin, hook) for hook in hooks]
    flush_queue(hub)

    running = [in_background(hub, delivery_id, timeout=PATIENT) for delivery_id in pings[:2]]
    for server in slow[:2]:
        server.wait_for_connections(1)
    job_queue(hub).deliver(pings[2])
    ping(hub_client, boss, elsewhere.get_json()["id"])
    drain_queue(hub)

    assert slow[2].accepted() == 0  # the tenant's third delivery waits for a slot
    [told] = receiver.deliveries("/other")  # another tenant's delivery went at once
    assert told.event == "ping" and told.signature_valid
    for server in slow[:2]:
        server.hang_up()
    for worker in running:
        worker.join()
    drain_queue(hub)
    assert slow[2].accepted() == 1
    third = only_delivery(hub_client, admin, hooks[2])
    assert [a["errorCode"] for a in third["attempts"]] == ["receiver_timeout"]
