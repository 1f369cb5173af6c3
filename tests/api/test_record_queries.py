"""The records page's ``where``, ``sort`` and ``fields`` over HTTP, and bulk changes by
``where`` (docs/decisions.md, "Filtering and sorting records")."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from integration_hub.db.models import Record
from integration_hub.db.types import utcnow
from integration_hub.records import store as records
from tests.support.problems import assert_problem

INVOICES = {
    "i1": {"id": "i1", "status": "open", "amount": 120, "customer": "Ada"},
    "i2": {"id": "i2", "status": "paid", "amount": 80.5, "customer": "Grace"},
    "i3": {"id": "i3", "status": "open", "amount": 9, "customer": "alan"},
    "i4": {"id": "i4", "status": "void", "amount": "100", "customer": None},
    "i5": {"id": "i5", "status": "open", "customer": "Édith"},
}


@pytest.fixture
def integration(make_integration, session):
    integration = make_integration("Books", type="custom", auth_type="none",
                                   shares={"mia": 1, "walt": 2})
    records.upsert(session, integration, "invoices", INVOICES, utcnow())
    records.upsert(session, integration, "payments", {"p1": {"id": "p1", "status": "open"}},
                   utcnow())
    session.commit()
    return integration


@pytest.fixture
def writer(make_caller):
    return make_caller("walt")


def listed(client, caller, integration, **query) -> list[str]:
    answer = client.get(f"/api/integrations/{integration}/records", headers=caller.headers,
                        query_string={"model": "invoices", **query})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return [item["id"] for item in answer.get_json()["_embedded"]["inf:record"]]


@pytest.mark.parametrize(("where", "expected"), [
    ("(status,eq,open)", ["i1", "i3", "i5"]),
    ("(status,eq,open)~and(amount,gt,10)", ["i1"]),
    ("(status,eq,paid)~or(amount,lt,10)", ["i2", "i3"]),
    ("~not(status,eq,open)", ["i2", "i4"]),
    ("(amount,ge,100)", ["i1", "i4"]),          # "100" is text, and also equal as text
    ("(amount,btw,9,80.5)", ["i2", "i3"]),
    ("(status,in,paid,void)", ["i2", "i4"]),
    ("(customer,like,a%)", ["i1", "i3"]),       # ASCII letters in either case
    ("(customer,nlike,%a%)", ["i4", "i5"]),
    ("(customer,blank)", ["i4"]),
    ("(amount,notblank)", ["i1", "i2", "i3", "i4"]),
])
def test_where_filters_the_page(client, member, integration, where, expected):
    assert listed(client, member, integration, where=where) == expected


def test_numbers_compare_as_numbers(client, member, integration):
    # 9 < 80.5 < 120 as numbers; as text "120" < "80.5" < "9"
    assert listed(client, member, integration, where="(amount,lt,100)") == ["i2", "i3"]


def test_sort_orders_by_data_fields_and_paging_keeps_the_filter(client, member, integration):
    # Ascending: numbers, then text, then missing; descending is its reverse, missing last.
    assert listed(client, member, integration, sort="amount") == ["i3", "i2", "i1", "i4", "i5"]
    assert listed(client, member, integration, sort="-amount") == ["i4", "i1", "i2", "i3", "i5"]
    # Text in code point order: "Édith" > "alan" > "Ada"
    assert listed(client, member, integration, sort="status,-customer") == [
        "i5", "i3", "i1", "i2", "i4"]

    answer = client.get(f"/api/integrations/{integration}/records", headers=member.headers,
                        query_string={"model": "invoices", "where": "(status,eq,open)",
                                      "sort": "-amount", "limit": 2})
    document = answer.get_json()
    assert document["total"] == 3 and document["count"] == 2
    following = client.get(document["_links"]["next"]["href"], headers=member.headers)
    assert [item["id"] for item in following.get_json()["_embedded"]["inf:record"]] == ["i5"]


@pytest.mark.parametrize(("where", "start", "total", "ids"), [
    ("(status,eq,open)", 0, 3, ["i1", "i3"]),
    ("(status,eq,open)", 2, 3, ["i5"]),
    ("(status,eq,open)", 3, 3, []),     # past the last page: still the whole total
    ("(status,eq,open)", 50, 3, []),
    ("(status,eq,gone)", 0, 0, []),     # nothing matches
])
def test_a_sorted_page_counts_every_match_whichever_page(client, member, integration, where,
                                                        start, total, ids):
    """The total counts every match whichever page is asked, one past the last included
    (a count read off the page's own rows would have none to read it from)."""
    answer = client.get(f"/api/integrations/{integration}/records", headers=member.headers,
                        query_string={"model": "invoices", "where": where, "sort": "-amount",
                                      "start": start, "limit": 2})
    document = answer.get_json()
    assert (document["total"], document["count"]) == (total, len(ids))
    assert [item["id"] for item in document["_embedded"].get("inf:record", [])] == ids


def test_fields_choose_the_data_shown(client, member, integration):
    answer = client.get(f"/api/integrations/{integration}/records", headers=member.headers,
                        query_string={"model": "invoices", "fields": "amount,missing",
                                      "where": "(id,eq,i1)"})
    (item,) = answer.get_json()["_embedded"]["inf:record"]
    assert item["data"] == {"amount": 120}
    assert item["id"] == "i1"


@pytest.mark.parametrize(("parameter", "value", "code"), [
    ("where", "(status,eq,open)~and(amount,gtt,5)", "where_invalid"),
    ("where", "(status,eq,open", "where_invalid"),
    ("where", "(bad name,eq,1)", "where_invalid"),
    ("sort", "-", "sort_invalid"),
    ("fields", "a,,b", "fields_invalid"),
])
def test_a_bad_parameter_is_422_pointing_at_it(client, member, integration, parameter, value,
                                                code):
    answer = client.get(f"/api/integrations/{integration}/records", headers=member.headers,
                        query_string={"model": "invoices", parameter: value})

    assert_problem(answer, 422, code)
    assert list(answer.get_json()["errors"]) == [parameter]


def test_the_unknown_operator_is_named_with_its_term(client, member, integration):
    answer = client.get(f"/api/integrations/{integration}/records", headers=member.headers,
                        query_string={"where": "(status,eq,open)~and(amount,gtt,5)"})
    (message,) = answer.get_json()["errors"]["where"]
    assert "term 2" in message and "gtt" in message


# -- bulk changes -------------------------------------------------------------------------------

def data_of(session, integration, model="invoices") -> dict[str, dict]:
    session.expire_all()
    return {r.record_id: r.data for r in session.scalars(select(Record).where(
        Record.integration_id == integration, Record.model == model))}


def test_bulk_patch_merges_into_every_selected_record(client, writer, integration, session):
    answer = client.patch(f"/api/integrations/{integration}/records/invoices",
                          headers=writer.headers, query_string={"where": "(status,eq,open)"},
                          json={"status": "late", "customer": None},
                          content_type="application/merge-patch+json")

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["count"] == 3
    stored = data_of(session, integration)
    assert {k for k, v in stored.items() if v.get("status") == "late"} == {"i1", "i3", "i5"}
    assert stored["i1"] == {"id": "i1", "status": "late", "amount": 120}
    assert stored["i2"] == INVOICES["i2"]
    assert data_of(session, integration, "payments")["p1"]["status"] == "open"


def test_bulk_patch_counts_only_records_it_changed(client, writer, integration):
    answer = client.patch(f"/api/integrations/{integration}/records/invoices",
                          headers=writer.headers, query_string={"where": "(amount,notblank)"},
                          json={"status": "open"})
    assert answer.get_json()["count"] == 2  # i1 and i3 were open already


def test_bulk_delete_removes_every_selected_record(client, writer, integration, session):
    answer = client.delete(f"/api/integrations/{integration}/records/invoices",
                           headers=writer.headers,
                           query_string={"where": "(status,eq,open)~or(status,eq,void)"})

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["count"] == 4
    assert answer.get_json()["_links"]["inf:records"]["href"].endswith("model=invoices")
    assert set(data_of(session, integration)) == {"i2"}
    assert set(data_of(session, integration, "payments")) == {"p1"}


def test_a_bulk_change_needs_a_where_and_write_access(client, writer, member, integration,
                                                      session):
    base = f"/api/integrations/{integration}/records/invoices"
    before = data_of(session, integration)

    no_where = client.delete(base, headers=writer.headers)
    empty_where = client.delete(base, headers=writer.headers, query_string={"where": ""})
    reader = client.delete(base, headers=member.headers, query_string={"where": "(id,notblank)"})
    reader_patch = client.patch(base, headers=member.headers, json={"x": 1},
                                query_string={"where": "(id,notblank)"})
    with_id = client.patch(base, headers=writer.headers, json={"id": "same"},
                           query_string={"where": "(id,notblank)"})

    assert_problem(no_where, 422, "validation_failed")
    assert_problem(empty_where, 422, "where_invalid")
    assert_problem(reader, 403, "forbidden")
    assert_problem(reader_patch, 403, "forbidden")
    assert_problem(with_id, 422, "record_invalid")
    assert data_of(session, integration) == before


def test_bulk_changes_leave_records_a_sync_marked_deleted(client, writer, integration,
                                                         session):
    records.replace_model(session, integration, "invoices",
                          {k: v for k, v in INVOICES.items() if k != "i3"}, utcnow())
    session.commit()

    answer = client.delete(f"/api/integrations/{integration}/records/invoices",
                           headers=writer.headers, query_string={"where": "(status,eq,open)"})

    assert answer.get_json()["count"] == 2
    assert set(data_of(session, integration)) == {"i2", "i3", "i4"}
