"""Records written through the API: create one or many, replace, merge, delete; who may;
the forms a generic client follows; the audit log (docs/decisions.md, "Records through
the API")."""

from __future__ import annotations

import threading

import psycopg
import pytest
from sqlalchemy import func, select, update

from integration_hub.db.models import AuditEntry, Record
from integration_hub.db.types import utcnow
from integration_hub.records import store as records
from integration_hub.records.writing import MAX_BATCH
from tests.support.forms import HAL_FORMS, properties, submit, templates
from tests.support.hub_database import WAIT, plain_url, wait_until
from tests.support.problems import assert_problem

MERGE_PATCH = "application/merge-patch+json"


@pytest.fixture
def integration(make_integration):
    """An integration mia may read (share level 1) and walt may write (level 2)."""
    return make_integration("Ledger", type="custom", auth_type="none",
                            shares={"mia": 1, "walt": 2})


@pytest.fixture
def writer(make_caller):
    return make_caller("walt")


def base(integration: str, model: str = "invoices") -> str:
    return f"/api/integrations/{integration}/records/{model}"


def stored(session, integration: str, model: str = "invoices") -> dict[str, dict]:
    session.rollback()  # a new snapshot: SQLite's read transaction would keep the old one
    return {record.record_id: record.data for record in session.scalars(
        select(Record).where(Record.integration_id == integration, Record.model == model))}


# -- create ---------------------------------------------------------------------------------------

def test_creating_one_record_answers_it_with_its_location(client, writer, integration, session):
    answer = client.post(base(integration), headers=writer.headers,
                         json={"id": "inv-1", "amount": 120, "customer": {"name": "Ada"}})

    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.mimetype == "application/hal+json"
    assert answer.headers["Location"] == f"{base(integration)}/inv-1"
    document = answer.get_json()
    assert document["id"] == "inv-1" and document["model"] == "invoices"
    assert document["data"] == {"id": "inv-1", "amount": 120, "customer": {"name": "Ada"}}
    assert document["_links"]["self"]["href"] == f"{base(integration)}/inv-1"
    read = client.get(answer.headers["Location"], headers=writer.headers)
    assert read.status_code == 200 and read.get_json()["data"] == document["data"]


def test_a_record_without_an_id_gets_one_generated_into_its_data(client, writer, integration,
                                                                   session):
    answer = client.post(base(integration), headers=writer.headers, json={"amount": 5})

    assert answer.status_code == 201, answer.get_data(as_text=True)
    document = answer.get_json()
    assert len(document["id"]) >= 32
    assert document["data"] == {"id": document["id"], "amount": 5}
    assert stored(session, integration) == {document["id"]: document["data"]}


def test_a_number_id_names_the_record_as_text_and_stays_a_number_in_its_data(
        client, writer, integration, session):
    answer = client.post(base(integration), headers=writer.headers, json={"id": 7, "n": 1})

    assert answer.status_code == 201
    assert answer.headers["Location"] == f"{base(integration)}/7"
    assert stored(session, integration) == {"7": {"id": 7, "n": 1}}


def test_an_id_with_slashes_is_one_segment_of_its_location(client, writer, integration):
    answer = client.post(base(integration), headers=writer.headers, json={"id": "2026/03 a"})

    assert answer.status_code == 201
    assert answer.headers["Location"] == f"{base(integration)}/2026%2F03%20a"
    assert client.get(answer.headers["Location"], headers=writer.headers).status_code == 200


def test_an_array_creates_every_record_in_the_order_sent(client, writer, integration, session):
    answer = client.post(base(integration), headers=writer.headers,
                         json=[{"id": "b", "n": 2}, {"id": "a", "n": 1}, {"n": 3}])

    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert "Location" not in answer.headers
    document = answer.get_json()
    assert document["count"] == 3
    items = document["_embedded"]["inf:record"]
    assert [item["id"] for item in items][:2] == ["b", "a"]
    assert [item["data"]["n"] for item in items] == [2, 1, 3]
    assert document["_links"]["inf:records"]["href"] == (
        f"/api/integrations/{integration}/records?model=invoices")
    assert set(stored(session, integration)) == {item["id"] for item in items}


def test_an_array_is_all_or_nothing(client, writer, integration, session):
    assert client.post(base(integration), headers=writer.headers,
                       json={"id": "taken"}).status_code == 201

    clash = client.post(base(integration), headers=writer.headers,
                        json=[{"id": "new-1"}, {"id": "taken"}, {"id": "new-2"}])
    twice = client.post(base(integration), headers=writer.headers,
                        json=[{"id": "x"}, {"id": "y"}, {"id": "x"}])
    not_object = client.post(base(integration), headers=writer.headers,
                             json=[{"id": "z"}, "z2"])

    assert_problem(clash, 409, "record_exists")
    assert clash.get_json()["ids"] == ["taken"]
    assert_problem(twice, 422, "record_invalid")
    assert twice.get_json()["errors"] == {"2.id": ["sent twice in this request"]}
    assert_problem(not_object, 422, "record_invalid")
    assert twice.get_json()["fields"]["invalid"] == ["2.id"]
    assert not_object.get_json()["errors"] == {"1": ["must be an object"]}
    assert set(stored(session, integration)) == {"taken"}


def test_an_array_holds_one_to_the_batch_limit(client, writer, integration, session):
    empty = client.post(base(integration), headers=writer.headers, json=[])
    too_many = client.post(base(integration), headers=writer.headers,
                           json=[{"id": str(n)} for n in range(MAX_BATCH + 1)])
    most = client.post(base(integration), headers=writer.headers,
                       json=[{"id": str(n)} for n in range(MAX_BATCH)])

    assert_problem(empty, 422, "record_invalid")
    assert_problem(too_many, 422, "record_invalid")
    assert most.status_code == 201 and most.get_json()["count"] == MAX_BATCH
    assert len(stored(session, integration)) == MAX_BATCH


def test_creating_an_id_the_model_holds_is_a_conflict_even_when_a_sync_marked_it_deleted(
        client, writer, integration, session):
    records.replace_model(session, integration, "invoices", {"kept": {"id": "kept"}}, utcnow())
    records.upsert(session, integration, "invoices", {"gone": {"id": "gone"}}, utcnow())
    records.replace_model(session, integration, "invoices", {"kept": {"id": "kept"}}, utcnow())
    session.commit()

    for record_id in ("kept", "gone"):
        answer = client.post(base(integration), headers=writer.headers, json={"id": record_id})
        assert_problem(answer, 409, "record_exists")
    other_model = client.post(base(integration, "payments"), headers=writer.headers,
                              json={"id": "kept"})
    assert other_model.status_code == 201


# -- replace, merge, delete ---------------------------------------------------------------------

@pytest.fixture
def invoice(client, writer, integration) -> str:
    answer = client.post(base(integration), headers=writer.headers,
                         json={"id": "inv-1", "amount": 10, "status": "open",
                               "customer": {"name": "Ada", "city": "Paris"}})
    assert answer.status_code == 201
    return answer.headers["Location"]


def test_put_replaces_the_data_and_keeps_the_id(client, writer, invoice, integration, session):
    answer = client.put(invoice, headers=writer.headers, json={"amount": 12})

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["data"] == {"id": "inv-1", "amount": 12}
    assert stored(session, integration) == {"inv-1": {"id": "inv-1", "amount": 12}}


def test_put_or_patch_naming_another_id_is_refused(client, writer, invoice, integration,
                                                  session):
    before = stored(session, integration)

    put = client.put(invoice, headers=writer.headers, json={"id": "inv-2", "amount": 1})
    patch = client.patch(invoice, headers=writer.headers, json={"id": "inv-2"},
                         content_type=MERGE_PATCH)

    for answer in (put, patch):
        assert_problem(answer, 422, "record_invalid")
        assert list(answer.get_json()["errors"]) == ["id"]
    assert stored(session, integration) == before


def test_patch_merges_into_the_data(client, writer, invoice, integration, session):
    answer = client.patch(invoice, headers=writer.headers, content_type=MERGE_PATCH,
                          json={"status": None, "amount": 11, "customer": {"city": None,
                                                                            "vat": "FR1"}})

    assert answer.status_code == 200, answer.get_data(as_text=True)
    expected = {"id": "inv-1", "amount": 11, "customer": {"name": "Ada", "vat": "FR1"}}
    assert answer.get_json()["data"] == expected
    assert stored(session, integration) == {"inv-1": expected}


def test_patch_removing_the_id_keeps_it(client, writer, invoice, integration, session):
    answer = client.patch(invoice, headers=writer.headers, json={"id": None, "amount": 3})

    assert answer.status_code == 200
    assert stored(session, integration)["inv-1"]["id"] == "inv-1"


@pytest.mark.parametrize("patch", [{"n": 2}, {"n": 1}], ids=["changed", "same-data"])
def test_writing_a_record_a_sync_marked_deleted_makes_it_live(client, writer, integration,
                                                               session, patch):
    records.upsert(session, integration, "invoices", {"old": {"id": "old", "n": 1}}, utcnow())
    records.replace_model(session, integration, "invoices", {}, utcnow())
    session.commit()

    answer = client.patch(f"{base(integration)}/old", headers=writer.headers, json=patch)

    assert answer.status_code == 200
    assert answer.get_json()["deleted"] is False
    page = client.get(f"/api/integrations/{integration}/records", headers=writer.headers,
                      query_string={"model": "invoices"}).get_json()
    assert [item["id"] for item in page["_embedded"]["inf:record"]] == ["old"]


def test_a_record_a_sync_keys_by_another_field_keeps_its_own_id_member(
        client, writer, integration, session):
    """A sync with ``idField: "uuid"`` stores the upstream's items as they are: their ``id``
    is the upstream's, not the record's. Writing such a record keeps that member; only an
    ``id`` the body sends of its own, naming neither the record nor what its data holds,
    is refused. Data holding no ``id`` gets the record's, as a record POSTed does."""
    records.upsert(session, integration, "invoices",
                   {"u-1": {"uuid": "u-1", "id": 42, "name": "a"},
                    "u-2": {"uuid": "u-2", "name": "a"}}, utcnow())
    session.commit()
    one, two = f"{base(integration)}/u-1", f"{base(integration)}/u-2"

    patched = client.patch(one, headers=writer.headers, json={"name": "b"})
    assert patched.status_code == 200, patched.get_data(as_text=True)
    assert patched.get_json()["data"] == {"uuid": "u-1", "id": 42, "name": "b"}
    sent_back = client.put(one, headers=writer.headers,
                           json={"uuid": "u-1", "id": 42, "name": "c"})  # as read
    assert sent_back.status_code == 200, sent_back.get_data(as_text=True)
    left_out = client.put(one, headers=writer.headers, json={"uuid": "u-1", "name": "d"})
    assert left_out.status_code == 200
    assert stored(session, integration)["u-1"] == {"uuid": "u-1", "id": 42, "name": "d"}

    for answer in (client.patch(one, headers=writer.headers, json={"id": 43}),
                   client.put(one, headers=writer.headers, json={"id": "u-2"})):
        assert_problem(answer, 422, "record_invalid")
        assert list(answer.get_json()["errors"]) == ["id"]
    assert stored(session, integration)["u-1"] == {"uuid": "u-1", "id": 42, "name": "d"}

    assert client.patch(two, headers=writer.headers, json={"name": "b"}).status_code == 200
    assert stored(session, integration)["u-2"] == {"id": "u-2", "uuid": "u-2", "name": "b"}


def test_a_write_of_the_same_data_changes_nothing(client, writer, invoice, integration,
                                                 session):
    """The same data (members in any order) is no change: ``updatedAt`` stays. A value of
    another JSON type is one: ``true`` is not ``1``, nor ``1.0``."""
    before = client.get(invoice, headers=writer.headers).get_json()
    same = {"customer": {"city": "Paris", "name": "Ada"}, "status": "open", "amount": 10}

    answers = [client.put(invoice, headers=writer.headers, json=same),
               client.put(invoice, headers=writer.headers, json={**same, "id": "inv-1"}),
               client.patch(invoice, headers=writer.headers, json={"amount": 10, "x": None}),
               client.patch(invoice, headers=writer.headers, json={})]

    for answer in answers:
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.get_json()["data"] == before["data"]
        assert answer.get_json()["updatedAt"] == before["updatedAt"]
    last = before["updatedAt"]
    for value in (10.0, 10, 1, True, 1.0):  # each == the one before it, in Python
        answer = client.patch(invoice, headers=writer.headers, json={"amount": value})
        assert answer.status_code == 200
        assert answer.get_json()["updatedAt"] > last, value
        last = answer.get_json()["updatedAt"]
        amount = stored(session, integration)["inv-1"]["amount"]
        assert amount == value and type(amount) is type(value)


def test_an_import_tells_a_value_of_another_json_type_from_the_same(integration, session):
    """The store's own comparison (imports, syncs): ``true`` is not ``1`` nor ``1.0``,
    while the order of an object's members is no change."""
    records.upsert(session, integration, "m", {"a": {"id": "a", "n": 1, "o": {"x": 1}}},
                   utcnow())

    assert records.upsert(session, integration, "m", {"a": {"o": {"x": 1}, "n": 1, "id": "a"}},
                          utcnow()).updated == []
    for value in (True, 1.0, 1):
        written = records.upsert(session, integration, "m",
                                 {"a": {"id": "a", "n": value, "o": {"x": 1}}}, utcnow())
        assert written.updated == ["a"], value
    assert records.upsert(session, integration, "m", {"a": {"id": "a", "n": 1, "o": {"x": True}}},
                          utcnow()).updated == ["a"]


def test_delete_removes_the_record(client, writer, invoice, integration, session):
    answer = client.delete(invoice, headers=writer.headers)

    assert answer.status_code == 204 and not answer.get_data()
    assert stored(session, integration) == {}
    assert_problem(client.get(invoice, headers=writer.headers), 404, "record_not_found")
    assert_problem(client.delete(invoice, headers=writer.headers), 404, "record_not_found")


def test_changing_a_record_that_is_not_there_is_not_found(client, writer, integration):
    where = f"{base(integration)}/missing"
    assert_problem(client.put(where, headers=writer.headers, json={}), 404, "record_not_found")
    assert_problem(client.patch(where, headers=writer.headers, json={}), 404,
                   "record_not_found")


# -- writers at the same time ------------------------------------------------------------------

def lock_waits(app) -> int:
    """How many sessions on the hub's PostgreSQL database wait for a lock (asked from a
    connection of the test's own: a transaction sees one snapshot of pg_stat_activity)."""
    with psycopg.connect(plain_url(app.config["HUB_SETTINGS"].database_url),
                         autocommit=True) as probe:
        return probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'").fetchone()[0]


@pytest.mark.parametrize(("request_kind", "meanwhile", "count"), [
    ("patch", {"note": "meanwhile"}, None),
    ("bulk", {"note": "meanwhile"}, 1),
    ("bulk", {"status": "paid"}, 0),  # no longer selected: left as the other writer made it
], ids=["patch", "bulk-patch", "bulk-patch-no-longer-selected"])
def test_a_change_committed_while_a_patch_waits_is_not_lost(
        app, backend, client, writer, invoice, integration, session, request_kind, meanwhile,
        count):
    """Another writer changes the record and commits while a PATCH (or a bulk PATCH) waits
    for it: the PATCH merges into that writer's data, not into what it read before; a bulk
    PATCH whose filter no longer selects the record leaves it alone. SQLite runs one
    writer at a time (``BEGIN IMMEDIATE``), so only PostgreSQL can interleave them."""
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers: two changes never interleave")
    before = stored(session, integration)["inv-1"]
    session.execute(update(Record).where(
        Record.integration_id == integration, Record.model == "invoices",
        Record.record_id == "inv-1").values(data={**before, **meanwhile}))  # locks the row
    answers = []

    def send():
        other = app.test_client()
        if request_kind == "patch":
            answers.append(other.patch(invoice, headers=writer.headers, json={"amount": 11}))
        else:
            answers.append(other.patch(base(integration), headers=writer.headers,
                                       json={"amount": 11},
                                       query_string={"where": "(status,eq,open)"}))

    patching = threading.Thread(target=send)
    patching.start()
    try:
        wait_until(lambda: lock_waits(app), "the PATCH to wait for the row")
        session.commit()
    finally:
        session.rollback()
        patching.join(WAIT)
    assert not patching.is_alive()

    (answer,) = answers
    assert answer.status_code == 200, answer.get_data(as_text=True)
    expected = {**before, **meanwhile, **({"amount": 11} if count != 0 else {})}
    assert stored(session, integration)["inv-1"] == expected
    if count is not None:
        assert answer.get_json()["count"] == count


# -- who may ------------------------------------------------------------------------------------

def test_a_reader_may_read_but_not_write(client, member, invoice, integration, session):
    before = stored(session, integration)

    answers = [client.post(base(integration), headers=member.headers, json={"id": "x"}),
               client.put(invoice, headers=member.headers, json={"n": 1}),
               client.patch(invoice, headers=member.headers, json={"n": 1}),
               client.delete(invoice, headers=member.headers)]

    for answer in answers:
        assert_problem(answer, 403, "forbidden")
    assert client.get(invoice, headers=member.headers).status_code == 200
    assert stored(session, integration) == before


def test_without_a_share_the_integration_is_not_found(client, make_caller, integration):
    stranger = make_caller("sam")
    answer = client.post(base(integration), headers=stranger.headers, json={"id": "x"})
    assert_problem(answer, 404, "integration_not_found")


# -- forms and the audit log --------------------------------------------------------------------

def test_a_writer_follows_forms_to_create_and_change_a_record(client, writer, integration):
    page = f"/api/integrations/{integration}/records?model=invoices"
    create = templates(client, writer, page)["default"]
    assert (create["method"], create["target"]) == ("POST", base(integration))

    created = submit(client, writer, create, id="inv-9")
    assert created.status_code == 201, created.get_data(as_text=True)
    assert client.put(created.headers["Location"], headers=writer.headers,
                      json={"amount": 4, "paid": False, "lines": [1]}).status_code == 200

    forms = templates(client, writer, created.headers["Location"])
    assert set(forms) == {"default", "merge", "delete"}
    assert (forms["merge"]["method"], forms["merge"]["contentType"]) == ("PATCH",
                                                                         "application/json")
    fields = properties(forms["default"])
    assert fields["amount"] == {"name": "amount", "type": "number", "value": 4}
    assert fields["paid"]["type"] == "checkbox" and fields["lines"]["type"] == "textarea"
    changed = submit(client, writer, forms["default"], id="inv-9", amount=5, paid=True)
    assert changed.status_code == 200 and changed.get_json()["data"]["amount"] == 5
    merged = submit(client, writer, forms["merge"], paid=None)
    assert merged.status_code == 200 and "paid" not in merged.get_json()["data"]
    deleted = submit(client, writer, forms["delete"])
    assert deleted.status_code == 204


def test_a_reader_is_offered_no_forms(client, member, invoice, integration):
    page = f"/api/integrations/{integration}/records?model=invoices"
    assert templates(client, member, page) == {}
    assert templates(client, member, invoice) == {}
    answer = client.get(invoice, headers={**member.headers, "Accept": HAL_FORMS})
    assert "_templates" not in answer.get_json()


def test_each_write_is_one_audit_entry(client, writer, integration, session):
    client.post(base(integration), headers=writer.headers, json=[{"id": "a"}, {"id": "b"}])
    client.patch(f"{base(integration)}/a", headers=writer.headers, json={"n": 1})
    client.delete(f"{base(integration)}/b", headers=writer.headers)

    entries = session.execute(select(AuditEntry.action, AuditEntry.detail).where(
        AuditEntry.target_id == integration, AuditEntry.action.like("record.%"))
        .order_by(AuditEntry.at)).all()
    assert [(action, detail) for action, detail in entries] == [
        ("record.create", {"model": "invoices", "records": 2}),
        ("record.update", {"model": "invoices", "recordId": "a", "change": "merge"}),
        ("record.delete", {"model": "invoices", "recordId": "b"})]
    assert session.scalar(select(func.count()).select_from(Record)) == 1
