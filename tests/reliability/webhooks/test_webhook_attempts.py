"""One webhook attempt against a receiver that answers as slowly as it likes: the attempt
ends at ``HUB_WEBHOOK_TIMEOUT`` in all (not per read), a running attempt keeps its claim,
an attempt that lost its claim does not settle over the one that took it, and attempt
numbers are counted exactly. Real loopback receivers trickle one byte at a time
(tests/support/trickle.py); a second worker is this test's thread calling the same code."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from integration_hub.db.models import WebhookDelivery
from integration_hub.db.session import db_session
from integration_hub.db.types import utcnow
from integration_hub.outbound import upstream_http
from integration_hub.queue import job_queue
from integration_hub.webhooks import delivery as webhook_delivery
from tests.conftest import drain_queue, flush_queue

PATIENT = 60.0  # seconds: an attempt that runs until the test hangs the receiver up


def attempt(hub, delivery_id: str, timeout: float | None = None) -> None:
    """One attempt, as a worker of ``hub`` makes it (its settings, its pool); ``timeout``
    replaces its ``HUB_WEBHOOK_TIMEOUT``."""
    settings = hub.config["HUB_SETTINGS"]
    if timeout is not None:
        settings = dataclasses.replace(settings, webhook_timeout_seconds=timeout)
    with hub.app_context():
        webhook_delivery.attempt(db_session(), delivery_id, settings,
                                 upstream_http.shared_pool(False))


def in_background(hub, delivery_id: str, timeout: float | None = None) -> threading.Thread:
    """An attempt made by another worker, running while the test goes on."""
    worker = threading.Thread(target=attempt, args=(hub, delivery_id, timeout), daemon=True)
    worker.start()
    return worker


def ping(client, admin, hook: str) -> str:
    answer = client.post(f"/api/webhooks/{hook}/ping", headers=admin.headers)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    return answer.get_json()["id"]


def lost_event(hub, client, admin) -> str:
    """An integration.created delivery whose task the queue lost (it stays pending)."""
    answer = client.post("/api/integrations", headers=admin.headers,
                         json={"name": "Told slowly", "type": "custom"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    flush_queue(hub)
    return answer.get_json()["id"]


def only_delivery(client, admin, hook: str) -> dict:
    page = client.get(f"/api/webhooks/{hook}/deliveries", headers=admin.headers).get_json()
    [listed] = page["_embedded"]["inf:webhook-delivery"]
    return client.get(listed["_links"]["self"]["href"], headers=admin.headers).get_json()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize("phase", ["head", "body"])
def test_an_attempt_ends_at_the_deadline_however_slowly_the_receiver_answers(
        hub, hub_client, admin, slow_receiver, webhook_to, phase):
    slow = slow_receiver(pause=0.5, size=80, phase=phase)  # 40 s for every byte
    hook = webhook_to(slow)
    delivery_id = ping(hub_client, admin, hook)

    attempt(hub, delivery_id)

    [only] = only_delivery(hub_client, admin, hook)["attempts"]
    assert (only["outcome"], only["errorCode"], only["responseStatus"]) == (
        "failed", "receiver_timeout", None)
    assert slow.outcomes() == ["hung-up"]  # the hub gave up long before the last byte


def test_the_sweep_leaves_a_delivery_alone_while_its_attempt_runs(
        hub, hub_client, admin, session, slow_receiver, webhook_to):
    slow = slow_receiver(pause=1.0, size=60)
    hook = webhook_to(slow, ["integration.created"])
    lost_event(hub, hub_client, admin)
    delivery_id = only_delivery(hub_client, admin, hook)["id"]
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                    .values(next_attempt_at=utcnow() - timedelta(minutes=2)))
    session.commit()  # overdue: the sweep would send it if it were not claimed

    running = in_background(hub, delivery_id)
    slow.wait_for_connections(1)
    while running.is_alive():  # the minute sweep, as often as it likes
        job_queue(hub).sweep_deliveries.call_local()
        drain_queue(hub)
        time.sleep(0.2)

    assert slow.accepted() == 1
    sent = only_delivery(hub_client, admin, hook)
    assert [a["number"] for a in sent["attempts"]] == [1]
    assert (sent["attemptCount"], sent["attempts"][0]["errorCode"]) == (1, "receiver_timeout")


def test_an_attempt_that_lost_its_claim_is_counted_but_does_not_settle_the_delivery(
        hub, hub_client, admin, session, slow_receiver, webhook_to):
    slow = slow_receiver(pause=1.0, size=60)
    hook = webhook_to(slow, ["integration.created"])
    lost_event(hub, hub_client, admin)
    delivery_id = only_delivery(hub_client, admin, hook)["id"]

    stalled = in_background(hub, delivery_id, timeout=PATIENT)
    slow.wait_for_connections(1)
    # The first worker stalls past its lease (a paused machine): its claim runs out, and a
    # second worker takes the delivery over while the first one's attempt still runs.
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                    .values(claimed_until=utcnow() - timedelta(seconds=1)))
    session.commit()
    attempt(hub, delivery_id)  # ends at its deadline and settles the delivery
    slow.hang_up()  # now the stalled attempt ends too, after its successor
    stalled.join()

    assert slow.accepted() == 2
    sent = only_delivery(hub_client, admin, hook)
    numbered = sorted(sent["attempts"], key=lambda a: a["number"])
    assert [(a["number"], a["errorCode"]) for a in numbered] == [
        (1, "receiver_timeout"), (2, "receiver_unreachable")]  # no lost update
    assert sent["attemptCount"] == 2
    # The delivery is as the claim holder left it: pending, its retry after one failed
    # attempt 2 minutes on; the stalled attempt, recorded later, changed none of it.
    assert sent["status"] == "pending"
    assert at(sent["nextAttemptAt"]) - at(numbered[0]["startedAt"]) == timedelta(minutes=2)
