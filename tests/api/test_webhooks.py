"""The webhook resource over HTTP: what a tenant administrator creates, reads, changes
and deletes, what is refused (and that nothing is stored then), and that the secret
never comes back out, except a generated one, once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from integration_hub import create_app
from integration_hub.db.models import Webhook, WebhookAttempt, WebhookDelivery
from tests.conftest import make_settings
from tests.secret_watch import WATCH
from tests.support.problems import assert_problem
from tests.support.receiver import sign

SECRET = "a-webhook-secret-of-some-length"
TARGET = "https://receiver.example.com/hook"


def path(hook: dict | str) -> str:
    return f"/api/webhooks/{hook if isinstance(hook, str) else hook['id']}"


def create(client, caller, **values):
    return client.post("/api/webhooks", headers=caller.headers,
                       json={"url": TARGET, "events": ["*"], **values})


def new_hook(client, caller, **values) -> dict:
    """A created webhook as GET answers it (with a given secret, the 201 answer has no
    ``secret`` key: only a generated one is shown)."""
    answer = create(client, caller, **{"secret": SECRET, **values})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body = answer.get_json()
    assert "secret" not in body
    return body


def stored(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(Webhook))


def test_create_answers_the_webhook_without_its_secret(client, admin):
    answer = create(client, admin, secret=SECRET, description="CRM sync",
                    events=["share.created", "integration.created", "integration.created"])

    assert answer.status_code == 201
    body = answer.get_json()
    assert answer.headers["Location"] == path(body)
    assert "secret" not in body and SECRET not in answer.get_data(as_text=True)
    assert "no-store" not in answer.headers.get("Cache-Control", "")
    assert body["url"] == TARGET
    assert body["events"] == ["integration.created", "share.created"]
    assert body["description"] == "CRM sync" and body["enabled"] is True
    assert body["createdBy"] == "root" and body["hubUrl"] == "http://localhost"
    for unset in ("disabledReason", "disabledAt", "failingSince", "lastDeliveryAt",
                  "lastDeliveryStatus"):
        assert body[unset] is None
    assert body["createdAt"] and body["updatedAt"]
    assert body["_links"] == {
        "self": {"href": path(body)},
        "inf:webhook-deliveries": {"href": path(body) + "/deliveries"},
        "inf:webhook-ping": {"href": path(body) + "/ping"},
        "inf:webhooks": {"href": "/api/webhooks"}}
    assert client.get(path(body), headers=admin.headers).get_json() == {
        key: value for key, value in body.items() if key != "secret"}


def test_a_generated_secret_is_shown_once_and_signs_deliveries(client, admin, receiver,
                                                               run_queue):
    answer = create(client, admin, url=receiver.url("/generated"))

    assert answer.status_code == 201
    assert answer.headers["Cache-Control"] == "no-store"
    secret = answer.get_json()["secret"]
    assert len(secret) >= 32
    WATCH.remember([secret])  # from now on, any answer carrying it fails the test
    hook = answer.get_json()["id"]
    later = [client.get(path(hook), headers=admin.headers),
             client.get("/api/webhooks", headers=admin.headers),
             client.put(path(hook), headers=admin.headers, json={"description": "changed"})]
    for seen in later:
        assert seen.status_code == 200
        assert "secret" not in seen.get_data(as_text=True)

    receiver.expect_secret("/generated", secret)
    assert client.post(path(hook) + "/ping", headers=admin.headers).status_code == 202
    run_queue()
    got = receiver.deliveries("/generated")
    assert len(got) == 1 and got[0].signature_valid and got[0].status == 200


def test_list_pages_through_the_tenants_webhooks(client, admin):
    ids = [new_hook(client, admin, description=f"hook {n}")["id"] for n in range(3)]

    first = client.get("/api/webhooks?limit=2", headers=admin.headers).get_json()
    assert (first["start"], first["count"], first["total"]) == (0, 2, 3)
    assert "next" in first["_links"] and "prev" not in first["_links"]
    second = client.get(first["_links"]["next"]["href"], headers=admin.headers).get_json()
    assert (second["start"], second["count"], second["total"]) == (2, 1, 3)
    assert "next" not in second["_links"]
    seen = [item["id"] for page in (first, second) for item in page["_embedded"]["inf:webhook"]]
    assert sorted(seen) == sorted(ids)
    assert all("secret" not in item for item in first["_embedded"]["inf:webhook"])


def test_put_changes_only_what_it_names(client, admin):
    hook = new_hook(client, admin, description="before")
    url = path(hook)

    events = client.put(url, headers=admin.headers, json={"events": ["sync.failed",
                                                                      "sync.completed"]})
    assert events.status_code == 200
    assert events.get_json()["events"] == ["sync.completed", "sync.failed"]
    assert events.get_json()["description"] == "before" and events.get_json()["url"] == TARGET

    moved = client.put(url, headers=admin.headers, json={"url": "http://elsewhere.example/in",
                                                         "description": "after"}).get_json()
    assert moved["url"] == "http://elsewhere.example/in" and moved["description"] == "after"
    assert moved["events"] == ["sync.completed", "sync.failed"]

    off = client.put(url, headers=admin.headers, json={"enabled": False}).get_json()
    assert off["enabled"] is False and off["disabledAt"] and off["disabledReason"] is None
    on = client.put(url, headers=admin.headers, json={"enabled": True}).get_json()
    assert on["enabled"] is True and on["disabledAt"] is None
    assert client.get(url, headers=admin.headers).get_json()["url"] == moved["url"]


def test_a_new_secret_signs_the_next_delivery(client, admin, receiver, run_queue, make_webhook):
    hook = make_webhook(secret=SECRET)
    new_secret = "the-replacement-secret-4711"

    assert client.put(path(hook), headers=admin.headers,
                      json={"secret": new_secret}).status_code == 200
    receiver.expect_secret("/hook", new_secret)
    client.post(path(hook) + "/ping", headers=admin.headers)
    run_queue()

    got = receiver.deliveries("/hook")
    assert len(got) == 1 and got[0].signature_valid and got[0].status == 200
    assert got[0].headers["x-hub-signature-256"] != sign(SECRET, got[0].body)


def test_delete_removes_the_webhook_and_its_deliveries(client, admin, session, receiver,
                                                       run_queue, make_webhook):
    hook = make_webhook()
    client.post(path(hook) + "/ping", headers=admin.headers)
    run_queue()
    client.post(path(hook) + "/ping", headers=admin.headers)  # its task is still queued
    session.rollback()
    assert len(session.scalars(select(WebhookDelivery)).all()) == 2
    assert session.scalars(select(WebhookAttempt)).all()

    assert client.delete(path(hook), headers=admin.headers).status_code == 204
    run_queue()
    assert len(receiver.deliveries()) == 1  # the queued ping went nowhere
    assert_problem(client.get(path(hook), headers=admin.headers), 404, "webhook_not_found")
    assert_problem(client.get(path(hook) + "/deliveries", headers=admin.headers), 404,
                   "webhook_not_found")
    assert_problem(client.delete(path(hook), headers=admin.headers), 404, "webhook_not_found")
    session.rollback()
    assert session.scalars(select(WebhookDelivery)).all() == []
    assert session.scalars(select(WebhookAttempt)).all() == []


def test_if_match_guards_put_and_delete(client, admin):
    hook = new_hook(client, admin)
    etag = client.get(path(hook), headers=admin.headers).headers["ETag"]
    client.put(path(hook), headers=admin.headers, json={"description": "someone else"})

    stale = {**admin.headers, "If-Match": etag}
    assert_problem(client.put(path(hook), headers=stale, json={"description": "mine"}), 412,
                   "precondition_failed")
    assert_problem(client.delete(path(hook), headers=stale), 412, "precondition_failed")
    current = client.get(path(hook), headers=admin.headers)
    assert current.get_json()["description"] == "someone else"

    fresh = {**admin.headers, "If-Match": current.headers["ETag"]}
    assert client.put(path(hook), headers=fresh, json={"description": "mine"}).status_code == 200
    fresh = {**admin.headers, "If-Match": client.get(path(hook), headers=admin.headers).headers["ETag"]}
    assert client.delete(path(hook), headers=fresh).status_code == 204


@pytest.mark.parametrize("change, code", [
    ({"url": "ftp://files.example.com/in"}, "webhook_target_invalid"),
    ({"url": "https:///no-host"}, "webhook_target_invalid"),
    ({"url": "not a url"}, "webhook_target_invalid"),
    ({"url": "https://user:pass@receiver.example.com/hook"}, "webhook_target_invalid"),
    ({"url": "https://receiver.example.com/hook#part"}, "webhook_target_invalid"),
    ({"url": "https://receiver.example.com/a hook"}, "webhook_target_invalid"),
    ({"url": "https://receiver.example.com/hook\n"}, "webhook_target_invalid"),
    ({"url": "https://receiver.example.com/\x07"}, "webhook_target_invalid"),
    ({"url": "https://receiver.example.com/" + "x" * 2000}, "validation_failed"),
    ({"url": ""}, "validation_failed"),
    ({"events": []}, "validation_failed"),
    ({"events": ["integration.exploded"]}, "validation_failed"),
    ({"events": "integration.created"}, "validation_failed"),
    ({"events": None}, "validation_failed"),
    ({"secret": "too-short"}, "validation_failed"),
    # Too long, and unlike any other test's data: the secret watch remembers it for the run.
    ({"secret": "long-webhook-secret-" + "".join(chr(97 + i % 26) for i in range(237))},
     "validation_failed"),
])
def test_invalid_webhooks_are_refused_and_nothing_is_stored(client, admin, session, change,
                                                            code):
    body = assert_problem(create(client, admin, **change), 422, code)
    assert set(change) <= set(body.get("errors", {}))
    assert stored(session) == 0

    hook = new_hook(client, admin)
    assert_problem(client.put(path(hook), headers=admin.headers, json=change), 422, code)
    assert client.get(path(hook), headers=admin.headers).get_json() == hook


def test_non_administrators_are_refused_everywhere(client, admin, member):
    hook = new_hook(client, admin)
    ping = client.post(path(hook) + "/ping", headers=admin.headers)
    delivery = ping.headers["Location"]

    for method, url, body in [
        ("get", "/api/webhooks", None), ("post", "/api/webhooks", {"url": TARGET, "events": ["*"]}),
        ("get", path(hook), None), ("put", path(hook), {"description": "mine"}),
        ("delete", path(hook), None), ("post", path(hook) + "/ping", None),
        ("get", path(hook) + "/deliveries", None), ("get", delivery, None),
    ]:
        assert_problem(getattr(client, method)(url, headers=member.headers, json=body), 403,
                       "forbidden")
    assert client.get(path(hook), headers=admin.headers).get_json() == hook
    assert client.get(path(hook) + "/deliveries",
                      headers=admin.headers).get_json()["total"] == 1


def test_another_tenants_administrator_sees_no_such_webhook(client, admin, make_caller):
    hook = new_hook(client, admin)
    delivery = client.post(path(hook) + "/ping", headers=admin.headers).headers["Location"]
    other = make_caller("boss", tenant="other", superuser=True)

    assert client.get("/api/webhooks", headers=other.headers).get_json()["total"] == 0
    for method, url, body in [
        ("get", path(hook), None), ("put", path(hook), {"description": "mine"}),
        ("delete", path(hook), None), ("post", path(hook) + "/ping", None),
        ("get", path(hook) + "/deliveries", None), ("get", delivery, None),
    ]:
        assert_problem(getattr(client, method)(url, headers=other.headers, json=body), 404,
                       "webhook_not_found")
    assert client.get(path(hook), headers=admin.headers).get_json() == hook


def test_unknown_webhooks_and_deliveries_are_404(client, admin):
    hook, other = new_hook(client, admin), new_hook(client, admin)
    others_delivery = client.post(path(other) + "/ping", headers=admin.headers).get_json()["id"]

    assert_problem(client.get(path("no-such-hook"), headers=admin.headers), 404,
                   "webhook_not_found")
    for delivery in ("no-such-delivery", others_delivery):
        assert_problem(client.get(f"{path(hook)}/deliveries/{delivery}", headers=admin.headers),
                       404, "webhook_delivery_not_found")


def test_the_api_root_leads_administrators_to_their_webhooks(client, admin):
    new_hook(client, admin)
    link = client.get("/api", headers=admin.headers).get_json()["_links"]["inf:webhooks"]["href"]

    listing = client.get(link, headers=admin.headers)
    assert listing.status_code == 200
    assert listing.get_json()["total"] == 1


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://localhost/x", "http://[::1]/x",
                                 "http://10.1.2.3/x", "http://sub.localhost./x"])
def test_private_targets_are_refused_when_configured(migrated_app, tmp_path, admin, session,
                                                     url):
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url, tmp_path,
                             HUB_PROXY_DENY_PRIVATE="true")
    guarded = create_app(settings).test_client()

    body = assert_problem(create(guarded, admin, url=url), 422, "webhook_target_invalid")
    assert "url" in body["errors"]
    assert stored(session) == 0
    hook = new_hook(guarded, admin)
    assert_problem(guarded.put(path(hook), headers=admin.headers, json={"url": url}), 422,
                   "webhook_target_invalid")
    assert guarded.get(path(hook), headers=admin.headers).get_json()["url"] == TARGET
