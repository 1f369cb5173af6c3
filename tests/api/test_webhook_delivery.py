"""Sending deliveries, judged by what the real receiver got and what the delivery
history says: pings, signatures, retries after doubling waits, attempt errors,
switching a failing webhook off, the outbound network policy, never sending twice,
the sweep for lost tasks and pruning. Later attempts are made by calling
``webhook_delivery.attempt`` with ``now`` moved forward (no waiting)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from integration_hub.db.models import Webhook, WebhookAttempt, WebhookDelivery
from integration_hub.db.session import db_session
from integration_hub.db.types import utcnow
from integration_hub.outbound import upstream_http
from integration_hub.queue import job_queue
from integration_hub.webhooks import delivery as webhook_delivery
from tests.conftest import flush_queue
from tests.support.receiver import sign

SECRET = "delivery-test-secret-0123456789"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def hook_url(hook: dict) -> str:
    return f"/api/webhooks/{hook['id']}"


def new_integration(client, caller, name: str = "Billing") -> str:
    answer = client.post("/api/integrations", headers=caller.headers,
                         json={"name": name, "type": "custom"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()["id"]


def ping(client, admin, hook: dict) -> str:
    answer = client.post(hook_url(hook) + "/ping", headers=admin.headers)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    return answer.get_json()["id"]


def lost_event(app, client, admin, hook: dict, name: str = "Billing") -> str:
    """An integration.created delivery whose task the queue lost (it stays pending)."""
    new_integration(client, admin, name)
    flush_queue(app)
    return listed(client, admin, hook)[0]["id"]


def listed(client, admin, hook: dict) -> list[dict]:
    page = client.get(hook_url(hook) + "/deliveries", headers=admin.headers).get_json()
    return page["_embedded"]["inf:webhook-delivery"]


def delivery(client, admin, hook: dict, delivery_id: str | None = None) -> dict:
    """One delivery with its body (the only one of the webhook when no id is given)."""
    if delivery_id is None:
        [only] = listed(client, admin, hook)
        delivery_id = only["id"]
    answer = client.get(f"{hook_url(hook)}/deliveries/{delivery_id}", headers=admin.headers)
    assert answer.status_code == 200
    return answer.get_json()


def webhook(client, admin, hook: dict) -> dict:
    return client.get(hook_url(hook), headers=admin.headers).get_json()


def attempt_at(app, delivery_id: str, now: datetime | None = None, settings=None,
               deny_private: bool = False) -> timedelta | None:
    with app.app_context():
        return webhook_delivery.attempt(db_session(), delivery_id,
                                        settings or app.config["HUB_SETTINGS"],
                                        upstream_http.shared_pool(deny_private), now=now)


def statuses(item: dict) -> list[int | None]:
    return [a["responseStatus"] for a in item["attempts"]]


def test_ping_is_signed_and_its_history_holds_the_exact_body(client, admin, receiver, run_queue,
                                                            make_webhook):
    hook = make_webhook(secret=SECRET)
    answer = client.post(hook_url(hook) + "/ping", headers=admin.headers)
    assert answer.status_code == 202
    queued = answer.get_json()
    assert answer.headers["Location"] == f"{hook_url(hook)}/deliveries/{queued['id']}"
    assert (queued["event"], queued["status"], queued["maxAttempts"]) == ("ping", "pending", 1)

    assert run_queue() == 1
    [got] = receiver.deliveries("/hook")
    assert got.event == "ping" and got.signature_valid and got.status == 200
    assert got.headers["x-hub-delivery"] == queued["id"]
    assert got.headers["x-hub-event-id"] == queued["eventId"]
    assert got.headers["content-type"] == "application/json"

    sent = client.get(answer.headers["Location"], headers=admin.headers).get_json()
    assert (sent["status"], sent["attemptCount"], sent["nextAttemptAt"]) == ("succeeded", 1, None)
    assert sent["completedAt"]
    [first] = sent["attempts"]
    assert (first["number"], first["responseStatus"], first["outcome"]) == (1, 200, "succeeded")
    assert first["errorCode"] is None and first["error"] is None
    assert sent["body"].encode() == got.body
    assert sign(SECRET, sent["body"].encode()) == got.headers["x-hub-signature-256"]
    payload = json.loads(sent["body"])
    assert (payload["id"], payload["type"], payload["actor"], payload["tenant"]) == (
        queued["eventId"], "ping", "root", "default")
    assert set(payload) == {"id", "type", "occurredAt", "tenant", "actor", "data"}
    assert payload["occurredAt"].endswith("Z") and first["durationMs"] >= 0
    assert payload["data"]["id"] == hook["id"] and "secret" not in payload["data"]
    assert payload["data"]["_links"]["self"]["href"] == f"http://localhost{hook_url(hook)}"
    assert "body" not in listed(client, admin, hook)[0]
    after = webhook(client, admin, hook)
    assert after["lastDeliveryAt"] is None and after["failingSince"] is None


def test_a_disabled_webhook_can_still_be_pinged(client, admin, receiver, run_queue, make_webhook):
    hook = make_webhook(enabled=False)
    ping(client, admin, hook)
    run_queue()
    assert [d.event for d in receiver.deliveries("/hook")] == ["ping"]
    assert delivery(client, admin, hook)["status"] == "succeeded"


@pytest.mark.parametrize("arrange, status, code", [
    (lambda receiver: receiver.fail("/hook", status=500), 500, "receiver_error"),
    (lambda receiver: receiver.fail("/hook", status=302), 302, "receiver_redirected"),
    (lambda receiver: receiver.drop("/hook"), None, "receiver_unreachable"),
], ids=["error", "redirect", "dropped"])
def test_a_failed_ping_is_tried_once_and_says_why(app, client, admin, receiver, run_queue,
                                                 make_webhook, arrange, status, code):
    hook = make_webhook()
    arrange(receiver)
    ping(client, admin, hook)

    assert run_queue() == 1
    assert len(receiver.deliveries("/hook")) == 1
    failed = delivery(client, admin, hook)
    assert (failed["status"], failed["attemptCount"], failed["nextAttemptAt"]) == ("failed", 1, None)
    [only] = failed["attempts"]
    assert (only["responseStatus"], only["outcome"], only["errorCode"]) == (status, "failed", code)
    assert only["error"]
    assert job_queue(app).webhooks.scheduled_count() == 0  # no retry
    after = webhook(client, admin, hook)
    assert after["failingSince"] is None and after["lastDeliveryStatus"] is None


def test_a_receiver_too_slow_to_answer_times_out(app, client, admin, receiver, make_webhook):
    hook = make_webhook()
    delivery_id = ping(client, admin, hook)
    receiver.hang("/hook", seconds=2)
    impatient = dataclasses.replace(app.config["HUB_SETTINGS"], webhook_timeout_seconds=0.3)

    assert attempt_at(app, delivery_id, settings=impatient) is None
    [only] = delivery(client, admin, hook)["attempts"]
    assert (only["responseStatus"], only["errorCode"]) == (None, "receiver_timeout")
    assert len(receiver.deliveries("/hook")) == 1


def test_a_private_receiver_is_refused_at_send_time_when_configured(app, client, admin, receiver,
                                                                   make_webhook):
    hook = make_webhook()
    delivery_id = ping(client, admin, hook)

    assert attempt_at(app, delivery_id, deny_private=True) is None
    [only] = delivery(client, admin, hook)["attempts"]
    assert (only["responseStatus"], only["errorCode"]) == (None, "receiver_address_denied")
    assert receiver.deliveries() == []


def test_a_failed_delivery_is_retried_with_the_same_body_until_it_succeeds(
        app, client, admin, receiver, run_queue, make_webhook):
    hook = make_webhook(["integration.created"])
    receiver.fail("/hook", times=2, status=503)
    new_integration(client, admin)

    run_queue()  # the attempt, then its retry task goes to the schedule
    first = delivery(client, admin, hook)
    assert first["status"] == "pending" and statuses(first) == [503]
    assert first["attempts"][0]["errorCode"] == "receiver_error"
    due = at(first["nextAttemptAt"])
    assert due - at(first["attempts"][0]["startedAt"]) == timedelta(seconds=120)
    assert job_queue(app).webhooks.scheduled_count() == 1

    assert attempt_at(app, first["id"], due - timedelta(seconds=1)) is None  # not due yet
    assert len(receiver.deliveries("/hook")) == 1
    assert attempt_at(app, first["id"], due) == timedelta(minutes=4)
    second = delivery(client, admin, hook)
    assert statuses(second) == [503, 503] and at(second["nextAttemptAt"]) == due + timedelta(minutes=4)
    assert attempt_at(app, first["id"], at(second["nextAttemptAt"])) is None

    done = delivery(client, admin, hook)
    assert (done["status"], done["attemptCount"], done["nextAttemptAt"]) == ("succeeded", 3, None)
    assert statuses(done) == [503, 503, 200]
    assert [a["outcome"] for a in done["attempts"]] == ["failed", "failed", "succeeded"]
    assert [a["number"] for a in done["attempts"]] == [1, 2, 3]
    got = receiver.deliveries("/hook")
    assert [d.status for d in got] == [503, 503, 200] and all(d.signature_valid for d in got)
    assert {d.body for d in got} == {done["body"].encode()}
    for header in ("x-hub-signature-256", "x-hub-event-id", "x-hub-delivery"):
        assert len({d.headers[header] for d in got}) == 1
    assert got[0].headers["x-hub-event-id"] == done["eventId"] == got[0].json["id"]
    assert attempt_at(app, first["id"], due + timedelta(days=1)) is None  # finished: no more
    assert len(receiver.deliveries("/hook")) == 3


def test_attempts_run_out_after_doubling_waits(app, client, admin, receiver, run_queue,
                                               make_webhook):
    hook = make_webhook(["integration.created"])
    receiver.fail("/hook", times=6, status=500)
    new_integration(client, admin)
    run_queue()

    for _ in range(5):
        pending = delivery(client, admin, hook)
        assert pending["status"] == "pending"
        attempt_at(app, pending["id"], at(pending["nextAttemptAt"]))
    failed = delivery(client, admin, hook)
    assert (failed["status"], failed["attemptCount"], failed["maxAttempts"]) == ("failed", 6, 6)
    assert failed["nextAttemptAt"] is None and failed["completedAt"]
    starts = [at(a["startedAt"]) for a in failed["attempts"]]
    assert [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)] == [
        timedelta(minutes=minutes) for minutes in (2, 4, 8, 16, 32)]
    assert len(receiver.deliveries("/hook")) == 6
    after = webhook(client, admin, hook)
    assert after["enabled"] is True and after["lastDeliveryStatus"] == "failed"
    assert at(after["failingSince"]) == starts[0]


def test_a_success_after_failures_clears_failing_since(app, client, admin, receiver, run_queue,
                                                       make_webhook):
    hook = make_webhook(["integration.created"])
    receiver.fail("/hook", status=500)
    new_integration(client, admin)
    run_queue()
    first = delivery(client, admin, hook)
    failing = webhook(client, admin, hook)
    assert at(failing["failingSince"]) == at(first["attempts"][0]["startedAt"])
    assert failing["lastDeliveryStatus"] == "failed"

    attempt_at(app, first["id"], at(first["nextAttemptAt"]))
    healthy = webhook(client, admin, hook)
    assert healthy["failingSince"] is None and healthy["lastDeliveryStatus"] == "succeeded"
    assert at(healthy["lastDeliveryAt"]) == at(first["nextAttemptAt"])


def test_one_word_for_how_a_delivery_ended_everywhere(client, admin, receiver, run_queue,
                                                     make_webhook):
    """The delivery's status, its attempt's outcome and the webhook's lastDeliveryStatus
    name the same fact with the same word, as sync runs do: succeeded or failed."""
    hook = make_webhook(["integration.created"])
    new_integration(client, admin)
    run_queue()
    sent = delivery(client, admin, hook)
    words = {sent["status"], sent["attempts"][-1]["outcome"],
             webhook(client, admin, hook)["lastDeliveryStatus"]}
    assert words == {"succeeded"}


def test_a_webhook_failing_for_a_day_is_switched_off_until_enabled_again(
        app, client, admin, session, receiver, run_queue, make_webhook):
    hook = make_webhook(["integration.created"])
    since = utcnow() - timedelta(hours=25)
    session.execute(update(Webhook).where(Webhook.id == hook["id"]).values(failing_since=since))
    session.commit()
    receiver.fail("/hook", status=500)
    new_integration(client, admin, "First")
    run_queue()

    off = webhook(client, admin, hook)
    assert off["enabled"] is False and off["disabledReason"] and off["disabledAt"]
    assert at(off["failingSince"]) == since
    closed = delivery(client, admin, hook)
    assert (closed["status"], closed["attemptCount"], closed["nextAttemptAt"]) == ("failed", 1, None)
    assert job_queue(app).webhooks.scheduled_count() == 0

    new_integration(client, admin, "Second")
    assert run_queue() == 0
    assert len(listed(client, admin, hook)) == 1

    on = client.put(hook_url(hook), headers=admin.headers, json={"enabled": True}).get_json()
    assert on["enabled"] is True
    assert on["disabledReason"] is None and on["disabledAt"] is None and on["failingSince"] is None
    new_integration(client, admin, "Third")
    assert run_queue() == 1
    got = receiver.deliveries("/hook")
    assert [d.status for d in got] == [500, 200] and got[1].json["data"]["name"] == "Third"


def test_failing_since_counts_from_the_first_failure_of_any_delivery(app, client, admin, receiver,
                                                                     run_queue, make_webhook):
    hook = make_webhook(["integration.created"])
    receiver.fail("/hook", times=3, status=500)
    new_integration(client, admin, "First")
    run_queue()
    since = at(delivery(client, admin, hook)["attempts"][0]["startedAt"])
    second = lost_event(app, client, admin, hook, "Second")

    assert attempt_at(app, second, since + timedelta(hours=23, minutes=59)) is not None
    still_on = webhook(client, admin, hook)
    assert still_on["enabled"] is True and at(still_on["failingSince"]) == since
    assert attempt_at(app, second, since + timedelta(hours=24, minutes=2)) is None
    off = webhook(client, admin, hook)
    assert off["enabled"] is False and off["disabledReason"] and at(off["failingSince"]) == since
    assert at(off["disabledAt"]) == since + timedelta(hours=24, minutes=2)
    assert delivery(client, admin, hook, second)["status"] == "failed"


def test_switching_a_webhook_off_closes_its_pending_deliveries_unsent(app, client, admin, receiver,
                                                                      run_queue, make_webhook):
    hook = make_webhook(["integration.created"])
    receiver.fail("/hook", status=500)
    new_integration(client, admin)
    run_queue()
    pending = delivery(client, admin, hook)
    client.put(hook_url(hook), headers=admin.headers, json={"enabled": False})

    assert attempt_at(app, pending["id"], at(pending["nextAttemptAt"])) is None
    closed = delivery(client, admin, hook)
    assert (closed["status"], closed["attemptCount"], closed["nextAttemptAt"]) == ("failed", 1, None)
    assert len(receiver.deliveries("/hook")) == 1


def test_a_delivery_queued_twice_is_sent_once(app, client, admin, receiver, run_queue,
                                              make_webhook):
    hook = make_webhook(["integration.created"])
    delivery_id, queue = lost_event(app, client, admin, hook), job_queue(app)

    queue.deliver(delivery_id)
    queue.deliver(delivery_id)
    assert run_queue() == 2
    assert len(receiver.deliveries("/hook")) == 1
    sent = delivery(client, admin, hook)
    assert (sent["status"], sent["attemptCount"]) == ("succeeded", 1)


def test_a_claimed_delivery_is_left_alone_until_the_claim_runs_out(app, client, admin, session,
                                                                   receiver, make_webhook):
    hook = make_webhook(["integration.created"])
    delivery_id, now = lost_event(app, client, admin, hook), utcnow()
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(
        next_attempt_at=now - timedelta(minutes=2), claimed_until=now + timedelta(minutes=1)))
    session.commit()  # as if a worker were sending it right now

    with app.app_context():
        assert webhook_delivery.due(db_session(), now) == []
    assert attempt_at(app, delivery_id, now) is None
    assert receiver.deliveries() == []
    assert attempt_at(app, delivery_id, now + timedelta(minutes=2)) is None  # the worker died
    assert len(receiver.deliveries("/hook")) == 1
    assert delivery(client, admin, hook)["status"] == "succeeded"


def test_the_sweep_sends_deliveries_whose_task_was_lost(app, client, admin, session, receiver,
                                                        run_queue, make_webhook):
    hook = make_webhook(["integration.created"])
    delivery_id, queue = lost_event(app, client, admin, hook), job_queue(app)

    queue.sweep_deliveries.call_local()
    assert run_queue() == 0  # not overdue yet: a task may still pick it up
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                    .values(next_attempt_at=utcnow() - timedelta(minutes=2)))
    session.commit()
    queue.sweep_deliveries.call_local()
    assert run_queue() == 1

    [got] = receiver.deliveries("/hook")
    assert got.event == "integration.created" and got.signature_valid
    assert delivery(client, admin, hook)["status"] == "succeeded"
    queue.sweep_deliveries.call_local()
    assert run_queue() == 0 and len(receiver.deliveries("/hook")) == 1


def test_prune_forgets_old_finished_deliveries_and_keeps_pending_ones(
        app, client, admin, session, receiver, run_queue, make_webhook):
    hook = make_webhook()
    receiver.fail("/hook", status=500)
    old_failed = ping(client, admin, hook)
    run_queue()
    old_delivered, recent = ping(client, admin, hook), ping(client, admin, hook)
    run_queue()
    old_pending = lost_event(app, client, admin, hook)
    assert [d["id"] for d in listed(client, admin, hook)] == [  # newest first
        old_pending, recent, old_delivered, old_failed]
    old = utcnow() - timedelta(days=31)
    session.execute(update(WebhookDelivery).values(created_at=old).where(
        WebhookDelivery.id.in_([old_failed, old_delivered, old_pending])))
    session.commit()

    retention = app.config["HUB_SETTINGS"].webhook_retention_days
    assert webhook_delivery.prune(session, utcnow(), retention) == 2
    session.rollback()
    assert set(session.scalars(select(WebhookDelivery.id))) == {recent, old_pending}
    assert set(session.scalars(select(WebhookAttempt.delivery_id))) == {recent}
    assert {d["id"] for d in listed(client, admin, hook)} == {recent, old_pending}


def test_only_subscribed_enabled_webhooks_of_the_tenant_get_the_event(
        client, admin, make_caller, receiver, run_queue, make_webhook):
    make_webhook(["integration.created"], path="/subscribed")
    make_webhook(["share.created", "sync.failed"], path="/other-events")
    make_webhook(["*"], path="/disabled", enabled=False)
    boss = make_caller("boss", tenant="other", superuser=True)
    receiver.expect_secret("/other-tenant", SECRET)
    assert client.post("/api/webhooks", headers=boss.headers, json={
        "url": receiver.url("/other-tenant"), "events": ["*"], "secret": SECRET}).status_code == 201

    new_integration(client, admin, "Ours")
    assert run_queue() == 1
    new_integration(client, boss, "Theirs")
    assert run_queue() == 1

    [ours] = receiver.deliveries("/subscribed")
    assert ours.json["data"]["name"] == "Ours" and ours.signature_valid
    [theirs] = receiver.deliveries("/other-tenant")
    assert theirs.json["data"]["name"] == "Theirs" and theirs.json["tenant"] == "other"
    assert receiver.deliveries("/other-events") == receiver.deliveries("/disabled") == []
