"""Webhooks narrowed to one integration and one records model: what they receive, what
is refused when they are saved, how they read, and what deleting the integration does."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from integration_hub.db.models import Webhook
from tests.support.problems import assert_problem

TARGET = "https://receiver.example.com/hook"


def create(client, caller, **values):
    return client.post("/api/webhooks", headers=caller.headers,
                       json={"url": TARGET, "events": ["*"], **values})


def upload(client, caller, integration, model, *ids: str) -> None:
    content = "id,n\n" + "".join(f"{record_id},1\n" for record_id in ids)
    answer = client.post(f"/api/integrations/{integration}/import", headers=caller.headers,
                         data={"resources_file": (io.BytesIO(content.encode()), "rows.csv"),
                               "model": model}, content_type="multipart/form-data")
    assert answer.status_code == 200, answer.get_data(as_text=True)


def record_ids(receiver, run_queue, path) -> list[tuple[str, str, list[str]]]:
    """(integration, model, ids) of every record event the path received."""
    run_queue()
    return [(d.json["data"]["integration"], d.json["data"]["model"], d.json["data"]["recordIds"])
            for d in receiver.deliveries(path) if d.event.startswith("record.")]


@pytest.fixture
def stranger(client, make_caller):
    """Another tenant's administrator and an integration of that tenant."""
    boss = make_caller("boss", tenant="other", superuser=True)
    answer = client.post("/api/integrations", headers=boss.headers,
                         json={"name": "Theirs", "type": "custom"})
    assert answer.status_code == 201
    return boss, answer.get_json()["id"]


def test_narrowed_webhooks_get_only_their_integrations_and_models_records(
        client, member, make_integration, receiver, run_queue, make_webhook):
    mine = make_integration("Mine", type="custom", auth_type="none", shares={"mia": 2})
    other = make_integration("Other", type="custom", auth_type="none", shares={"mia": 2})
    make_webhook(["record.created"], path="/mine", integration=mine)
    make_webhook(["record.created"], path="/contacts", model="contacts")
    make_webhook(["record.created"], path="/mine-contacts", integration=mine, model="contacts")
    make_webhook(["record.created"], path="/other", integration=other)
    make_webhook(["record.created"], path="/mine-deals", integration=mine, model="deals")
    make_webhook(["record.created"], path="/all")

    upload(client, member, mine, "contacts", "c1")
    upload(client, member, mine, "tickets", "t1")
    upload(client, member, other, "contacts", "c2")

    assert record_ids(receiver, run_queue, "/mine") == [(mine, "contacts", ["c1"]),
                                                        (mine, "tickets", ["t1"])]
    assert record_ids(receiver, run_queue, "/contacts") == [(mine, "contacts", ["c1"]),
                                                            (other, "contacts", ["c2"])]
    assert record_ids(receiver, run_queue, "/mine-contacts") == [(mine, "contacts", ["c1"])]
    assert record_ids(receiver, run_queue, "/other") == [(other, "contacts", ["c2"])]
    assert record_ids(receiver, run_queue, "/mine-deals") == []
    assert len(record_ids(receiver, run_queue, "/all")) == 3


def test_narrowing_leaves_other_events_alone(client, admin, make_integration, receiver, run_queue,
                                             make_webhook):
    mine = make_integration("Mine", type="custom")
    make_webhook(["integration.created"], integration=mine, model="contacts")
    created = client.post("/api/integrations", headers=admin.headers,
                          json={"name": "Another", "type": "custom"})
    run_queue()

    assert [d.json["data"]["id"] for d in receiver.deliveries()] == [created.get_json()["id"]]


def test_a_narrowed_webhook_reads_and_offers_its_narrowing(client, admin, make_integration):
    mine = make_integration("Mine", type="custom")
    answer = create(client, admin, integration=mine, model="contacts.v2")

    assert answer.status_code == 201, answer.get_data(as_text=True)
    hook = answer.get_json()
    assert (hook["integration"], hook["model"]) == (mine, "contacts.v2")
    assert hook["_links"]["inf:integration"] == {"href": f"/api/integrations/{mine}"}
    read = client.get(hook["_links"]["self"]["href"], headers={
        **admin.headers, "Accept": "application/prs.hal-forms+json"}).get_json()
    fields = {p["name"]: p for p in read["_templates"]["default"]["properties"]}
    assert fields["integration"]["value"] == mine and fields["model"]["value"] == "contacts.v2"

    widened = client.put(hook["_links"]["self"]["href"], headers=admin.headers,
                         json={"integration": None, "model": None}).get_json()
    assert (widened["integration"], widened["model"]) == (None, None)
    assert "inf:integration" not in widened["_links"]
    plain = create(client, admin).get_json()
    assert (plain["integration"], plain["model"]) == (None, None)


@pytest.mark.parametrize("values, field", [
    ({"integration": "no-such-integration"}, "integration"),
    ({"integration": ""}, "integration"),
    ({"model": "two words"}, "model"),
    ({"model": "contacts\n"}, "model"),
    ({"model": "-leading"}, "model"),
    ({"model": "m" * 65}, "model"),
    ({"model": 7}, "model"),
], ids=["unknown-integration", "empty-integration", "space", "newline", "leading-dash",
        "too-long", "not-a-string"])
def test_bad_narrowing_is_refused_on_its_field_and_nothing_is_stored(client, admin, session,
                                                                     values, field):
    body = assert_problem(create(client, admin, **values), 422, "validation_failed")

    assert set(body["errors"]) == {field}
    assert session.scalar(select(func.count()).select_from(Webhook)) == 0


@pytest.mark.parametrize("integration", ["no-such-integration", ""])
def test_changing_to_an_unknown_integration_is_refused_and_changes_nothing(
        client, admin, make_integration, integration):
    mine = make_integration("Mine", type="custom")
    hook = create(client, admin, integration=mine, model="contacts").get_json()
    changed = client.put(hook["_links"]["self"]["href"], headers=admin.headers,
                         json={"integration": integration, "model": "deals"})

    assert set(assert_problem(changed, 422, "validation_failed")["errors"]) == {"integration"}
    unchanged = client.get(hook["_links"]["self"]["href"], headers=admin.headers).get_json()
    assert (unchanged["integration"], unchanged["model"]) == (mine, "contacts")


def test_another_tenants_integration_is_unknown(client, admin, session, stranger):
    boss, theirs = stranger
    refused = assert_problem(create(client, admin, integration=theirs), 422, "validation_failed")
    assert set(refused["errors"]) == {"integration"}
    assert session.scalar(select(func.count()).select_from(Webhook)) == 0

    hook = create(client, admin).get_json()
    changed = client.put(hook["_links"]["self"]["href"], headers=admin.headers,
                         json={"integration": theirs, "description": "moved"})
    assert set(assert_problem(changed, 422, "validation_failed")["errors"]) == {"integration"}
    unchanged = client.get(hook["_links"]["self"]["href"], headers=admin.headers).get_json()
    assert (unchanged["integration"], unchanged["description"]) == (None, "")


def test_deleting_the_integration_deletes_the_webhooks_narrowed_to_it(
        client, admin, member, make_integration, receiver, run_queue, make_webhook):
    doomed = make_integration("Doomed", type="custom", auth_type="none", shares={"mia": 2})
    other = make_integration("Other", type="custom", auth_type="none", shares={"mia": 2})
    narrowed = make_webhook(["record.created", "integration.deleted"], path="/narrowed",
                            integration=doomed)
    by_model = make_webhook(["record.created", "integration.deleted"], path="/by-model",
                            model="contacts")
    everything = make_webhook(["record.created"], path="/everything")

    assert client.delete(f"/api/integrations/{doomed}", headers=admin.headers).status_code == 204

    assert client.get(f"/api/webhooks/{narrowed['id']}", headers=admin.headers).status_code == 404
    for kept in (by_model, everything):
        assert client.get(f"/api/webhooks/{kept['id']}", headers=admin.headers).status_code == 200
    upload(client, member, other, "contacts", "c1")  # nothing widens to the other integration
    run_queue()
    assert receiver.deliveries("/narrowed") == []  # its integration.deleted went with it
    assert [d.event for d in receiver.deliveries("/by-model")] == ["integration.deleted",
                                                                   "record.created"]
    assert record_ids(receiver, run_queue, "/by-model") == [(other, "contacts", ["c1"])]
