"""Record events: imports and syncs tell subscribed webhooks which records they created,
updated and marked deleted, in batches of at most 1000 ids, once the change commits. The
changes are made over HTTP, the real queue runs the deliveries and the real receiver
checks their signatures."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from integration_hub.db.models import Record, WebhookDelivery
from integration_hub.db.session import transaction
from integration_hub.db.types import utcnow
from integration_hub.queue import job_queue
from integration_hub.records import store as records
from integration_hub.webhooks.record_events import (
    ID_BYTES_PER_DELIVERY,
    IDS_PER_DELIVERY,
    records_changed,
)

RECORD_EVENTS = ["record.created", "record.updated", "record.deleted"]


@pytest.fixture
def integration(make_integration):
    """An integration mia may write to."""
    return make_integration("Records", type="custom", auth_type="none", shares={"mia": 2})


@pytest.fixture
def synced(make_integration, upstream):
    """An integration syncing ``contacts`` from the recording upstream; mia may write."""
    return make_integration("Contacts", type="custom", auth_type="none", mode="shared",
                            api_base_uri=f"{upstream.url}/v1", shares={"mia": 2},
                            data={"sync": {"model": "contacts", "path": "/contacts",
                                           "itemsPath": "data"}})


def upload(client, caller, integration, rows: list[tuple[str, int]], model="contacts"):
    content = "id,n\n" + "".join(f"{record_id},{n}\n" for record_id, n in rows)
    answer = client.post(f"/api/integrations/{integration}/import", headers=caller.headers,
                         data={"resources_file": (io.BytesIO(content.encode()), "rows.csv"),
                               "model": model}, content_type="multipart/form-data")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def sync(client, caller, integration, upstream, run_queue, items: list[dict]) -> None:
    upstream.respond("/v1/contacts", {"json": {"data": items}})
    started = client.post(f"/api/integrations/{integration}/sync", headers=caller.headers)
    assert started.status_code == 202, started.get_data(as_text=True)
    run_queue()


def delivered(receiver, run_queue, path="/hook"):
    run_queue()
    got = receiver.deliveries(path)
    assert all(d.signature_valid and d.status == 200 for d in got), [(d.event, d.status)
                                                                     for d in got]
    return got


def told(got) -> list[tuple[str, list[str]]]:
    """(event, ids) of each record event, in the order delivered."""
    return [(d.event, d.json["data"]["recordIds"]) for d in got if d.event.startswith("record.")]


def test_an_import_tells_which_records_it_created_and_updated(client, member, integration,
                                                              receiver, run_queue, make_webhook):
    make_webhook(RECORD_EVENTS)
    upload(client, member, integration, [("a", 1), ("b", 1)])
    body = upload(client, member, integration, [("a", 2), ("b", 1), ("c", 1)])
    assert (body["created"], body["updated"]) == (1, 1)

    got = delivered(receiver, run_queue)
    assert told(got) == [("record.created", ["a", "b"]), ("record.created", ["c"]),
                         ("record.updated", ["a"])]
    first = got[0].json
    assert first["actor"] == "mia" and first["tenant"] == "default"
    base = f"http://localhost/api/integrations/{integration}"
    assert first["data"] == {
        "_links": {"inf:integration": {"href": base},
                   "inf:records": {"href": f"{base}/records?model=contacts"}},
        "integration": integration, "model": "contacts", "recordIds": ["a", "b"], "count": 2}
    assert got[1].json["data"]["_links"]["inf:record"] == {"href": f"{base}/records/contacts/c"}
    assert len({d.json["id"] for d in got}) == 3


def test_an_import_of_2500_records_is_three_deliveries(client, member, integration, receiver,
                                                        run_queue, make_webhook):
    make_webhook(["record.created"])
    ids = [f"rec-{n:05d}" for n in range(2500)]
    assert upload(client, member, integration, [(i, 1) for i in ids])["created"] == 2500

    got = delivered(receiver, run_queue)
    assert sorted(d.json["data"]["count"] for d in got) == [500, 1000, 1000]
    told_ids = [i for d in got for i in d.json["data"]["recordIds"]]
    assert sorted(told_ids) == ids  # every id once
    assert all(d.json["data"]["count"] == len(d.json["data"]["recordIds"]) for d in got)
    assert all("inf:record" not in d.json["data"]["_links"] for d in got)
    assert len({d.headers["x-hub-event-id"] for d in got}) == 3


def test_a_sync_tells_created_updated_and_deleted_before_it_completed(
        client, member, synced, upstream, receiver, run_queue, make_webhook):
    make_webhook(["*"])
    sync(client, member, synced, upstream, run_queue, [{"id": 1}, {"id": 2, "v": 1}, {"id": 3}])
    sync(client, member, synced, upstream, run_queue, [{"id": 1}, {"id": 2, "v": 2}, {"id": 4}])

    got = delivered(receiver, run_queue)
    assert [d.event for d in got] == ["record.created", "sync.completed", "record.created",
                                      "record.updated", "record.deleted", "sync.completed"]
    assert told(got) == [("record.created", ["1", "2", "3"]), ("record.created", ["4"]),
                         ("record.updated", ["2"]), ("record.deleted", ["3"])]
    assert all(d.json["actor"] == "mia" for d in got)
    assert got[4].json["data"]["_links"]["inf:record"]["href"].endswith(
        f"/api/integrations/{synced}/records/contacts/3")


def test_a_sync_of_many_records_is_batched_per_webhook(client, member, synced, upstream,
                                                        receiver, run_queue, make_webhook):
    make_webhook(["record.created"], path="/one")
    make_webhook(["record.created"], path="/two")
    sync(client, member, synced, upstream, run_queue,
         [{"id": n} for n in range(IDS_PER_DELIVERY * 2 + 1)])

    one, two = (delivered(receiver, run_queue, path) for path in ("/one", "/two"))
    assert [d.json["data"]["count"] for d in one] == [1000, 1000, 1]
    assert [d.json["id"] for d in one] == [d.json["id"] for d in two]  # the same three events


def test_a_failed_sync_tells_no_record_event(client, member, synced, upstream, receiver,
                                             run_queue, make_webhook):
    make_webhook(["*"])
    upstream.respond("/v1/contacts", {"status": 500, "json": {"error": "down"}})
    assert client.post(f"/api/integrations/{synced}/sync",
                       headers=member.headers).status_code == 202
    run_queue()

    assert [d.event for d in delivered(receiver, run_queue)] == ["sync.failed"]


class Refused(Exception):
    """Something going wrong after the records were written, before the commit."""


def test_a_rolled_back_change_leaves_no_delivery(app, session, integration, receiver, run_queue,
                                                 make_webhook):
    make_webhook(RECORD_EVENTS)
    with app.app_context():
        with pytest.raises(Refused), transaction() as writing:
            written = records.upsert(writing, integration, "contacts", {"x": {"n": 1}}, utcnow())
            records_changed(writing, "default", integration, "contacts", "record.created",
                            written.created, "mia")
            assert writing.scalars(select(WebhookDelivery)).all() != []  # not committed
            raise Refused

    assert job_queue(app).webhooks.pending_count() == 0
    assert run_queue() == 0
    assert session.scalars(select(WebhookDelivery)).all() == []
    assert receiver.deliveries() == []


def test_no_ids_no_event_and_only_subscribers_hear(app, session, integration, receiver,
                                                   run_queue, make_webhook):
    make_webhook(["record.deleted"], path="/deleted-only")
    make_webhook(["*"], path="/switched-off", enabled=False)
    make_webhook(["*"], path="/everything")
    with app.app_context(), transaction() as writing:
        records_changed(writing, "default", integration, "contacts", "record.created", [], "mia")
        records_changed(writing, "default", integration, "contacts", "record.created",
                        ["x", "x"], "mia")

    assert [d.json["data"]["recordIds"] for d in delivered(receiver, run_queue, "/everything")] \
        == [["x"]]
    assert receiver.deliveries("/deleted-only") == receiver.deliveries("/switched-off") == []


def test_long_ids_make_more_deliveries_of_bounded_size(app, integration, receiver, run_queue,
                                                       make_webhook):
    """1,000 ids of 256 three-byte characters would be a body of 770 KB: they are cut by
    size too, each body staying below the bound however long the ids."""
    make_webhook(["record.updated"])
    ids = [f"{n:04d}" + "東" * 252 for n in range(IDS_PER_DELIVERY)]
    with app.app_context(), transaction() as writing:
        records_changed(writing, "default", integration, "contacts", "record.updated", ids,
                        "mia")

    got = delivered(receiver, run_queue)
    assert len(got) == 2
    assert [i for d in got for i in d.json["data"]["recordIds"]] == ids  # in order, each once
    assert all(len(d.body) < ID_BYTES_PER_DELIVERY + 4096 for d in got)


def test_the_records_api_tells_what_each_request_changed(client, member, integration,
                                                         receiver, run_queue, make_webhook):
    """One event per request, whatever it changed: a POST of an array, a PUT, a bulk
    PATCH (only the records it changed), a DELETE and a bulk DELETE."""
    make_webhook(RECORD_EVENTS)
    base = f"/api/integrations/{integration}/records/contacts"
    assert client.post(base, headers=member.headers,
                       json=[{"id": "a", "n": 1}, {"id": "b", "n": 1},
                             {"id": "c", "n": 2}]).status_code == 201
    assert client.put(f"{base}/a", headers=member.headers, json={"n": 5}).status_code == 200
    assert client.patch(base, headers=member.headers, json={"n": 2},
                        query_string={"where": "(n,lt,3)"}).status_code == 200
    assert client.delete(f"{base}/a", headers=member.headers).status_code == 204
    assert client.delete(base, headers=member.headers,
                         query_string={"where": "(n,eq,2)"}).status_code == 200

    got = delivered(receiver, run_queue)
    assert told(got) == [("record.created", ["a", "b", "c"]), ("record.updated", ["a"]),
                         ("record.updated", ["b"]), ("record.deleted", ["a"]),
                         ("record.deleted", ["b", "c"])]
    single = next(d for d in got if d.event == "record.deleted" and d.json["data"]["count"] == 1)
    assert single.json["data"]["_links"]["inf:record"]["href"].endswith("/records/contacts/a")


def test_a_refused_request_tells_nothing(client, member, integration, receiver, run_queue,
                                        make_webhook):
    make_webhook(RECORD_EVENTS)
    base = f"/api/integrations/{integration}/records/contacts"
    client.post(base, headers=member.headers, json={"id": "a"})
    run_queue()
    before = len(receiver.deliveries("/hook"))

    clash = client.post(base, headers=member.headers, json=[{"id": "b"}, {"id": "a"}])

    assert clash.status_code == 409
    assert len(delivered(receiver, run_queue)) == before


def test_a_write_that_changes_nothing_tells_nothing(client, member, integration, receiver,
                                                    run_queue, make_webhook):
    """A PUT or PATCH of the data the record holds already, or a bulk PATCH changing none,
    is no change to tell; a value of another JSON type (``true`` for ``1``) is one."""
    make_webhook(RECORD_EVENTS)
    base = f"/api/integrations/{integration}/records/contacts"
    assert client.post(base, headers=member.headers,
                       json={"id": "a", "n": 1, "tags": ["x"]}).status_code == 201

    for answer in (client.put(f"{base}/a", headers=member.headers,
                              json={"tags": ["x"], "n": 1}),
                   client.patch(f"{base}/a", headers=member.headers, json={"n": 1, "z": None}),
                   client.patch(base, headers=member.headers, json={"n": 1},
                                query_string={"where": "(id,eq,a)"})):
        assert answer.status_code == 200, answer.get_data(as_text=True)
    assert client.patch(f"{base}/a", headers=member.headers,
                        json={"n": True}).status_code == 200
    bulk = client.patch(base, headers=member.headers, json={"n": 1},
                        query_string={"where": "(id,eq,a)"})
    assert bulk.get_json()["count"] == 1

    assert told(delivered(receiver, run_queue)) == [
        ("record.created", ["a"]), ("record.updated", ["a"]), ("record.updated", ["a"])]


MANY = 1604  # 1,203 of them selected: more than two chunks of 500, and two events


@pytest.fixture
def many(session, integration) -> list[str]:
    """``MANY`` records of which those with n < 3 are selected; answers their ids."""
    records.upsert(session, integration, "contacts",
                   {f"r{i:05d}": {"id": f"r{i:05d}", "n": i % 4} for i in range(MANY)},
                   utcnow())
    session.commit()
    return [f"r{i:05d}" for i in range(MANY) if i % 4 < 3]


def contacts(session, integration) -> dict[str, dict]:
    session.expire_all()
    return {record.record_id: record.data for record in session.scalars(
        select(Record).where(Record.integration_id == integration, Record.model == "contacts"))}


def test_a_bulk_patch_of_many_records_changes_and_tells_each_once(
        client, member, integration, session, many, receiver, run_queue, make_webhook):
    make_webhook(["record.updated"])
    assert len(many) == 1203

    answer = client.patch(f"/api/integrations/{integration}/records/contacts",
                          headers=member.headers, json={"seen": 1},
                          query_string={"where": "(n,lt,3)"})

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["count"] == 1203
    data = contacts(session, integration)
    assert sorted(key for key, value in data.items() if value.get("seen") == 1) == many
    assert all("seen" not in value for value in data.values() if value["n"] == 3)
    got = told(delivered(receiver, run_queue))
    assert [len(ids) for _, ids in got] == [1000, 203]
    assert [i for _, ids in got for i in ids] == many  # each once, in order


def test_a_bulk_delete_of_many_records_tells_each_once(
        client, member, integration, session, many, receiver, run_queue, make_webhook):
    make_webhook(["record.deleted"])

    answer = client.delete(f"/api/integrations/{integration}/records/contacts",
                           headers=member.headers, query_string={"where": "(n,lt,3)"})

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["count"] == 1203
    assert sorted(contacts(session, integration)) == [f"r{i:05d}" for i in range(3, MANY, 4)]
    got = told(delivered(receiver, run_queue))
    assert [len(ids) for _, ids in got] == [1000, 203]
    assert [i for _, ids in got for i in ids] == many
