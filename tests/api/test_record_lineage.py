"""Lineage between records: imported as lineages_file with a records file, read per record
at GET /api/integrations/{id}/lineage (records/lineage.py; docs/decisions.md, "Records,
imports and syncs")."""

from __future__ import annotations

import io
import json

import pytest

from tests.support.problems import assert_problem

TABLES = b'{"id": "orders"}\n{"id": "customers"}\n'


def lines(*pairs) -> bytes:
    return "".join(json.dumps(pair) + "\n" for pair in pairs).encode()


def upload(client, caller, integration, records: bytes, lineages: bytes, **form):
    return client.post(f"/api/integrations/{integration}/import", headers=caller.headers,
                       data={"resources_file": (io.BytesIO(records), "tables.jsonl"),
                             "lineages_file": (io.BytesIO(lineages), "lineage.jsonl"),
                             "model": "tables", **form},
                       content_type="multipart/form-data")


def lineage(client, caller, integration, model: str, record_id: str):
    return client.get(f"/api/integrations/{integration}/lineage", headers=caller.headers,
                      query_string={"model": model, "recordId": record_id})


@pytest.fixture
def integration(make_integration):
    return make_integration("Warehouse", shares={"mia": 2})


def test_an_imported_lineage_is_read_both_ways_and_linked(client, member, integration):
    imported = upload(client, member, integration, TABLES, lines(
        {"upstream": "orders", "downstream": {"model": "dashboards", "id": "revenue"}},
        {"upstream": {"model": "tables", "id": "customers"},
         "downstream": {"model": "dashboards", "id": "revenue"}},
        {"upstream": "orders", "downstream": {"model": "dashboards", "id": "revenue"}},  # again
        {"upstream": {"id": "raw/orders"}, "downstream": "orders"}))

    assert imported.status_code == 200, imported.get_data(as_text=True)
    assert imported.get_json()["lineages"] == 3 and imported.get_json()["created"] == 2

    revenue = lineage(client, member, integration, "dashboards", "revenue")
    assert revenue.status_code == 200, revenue.get_data(as_text=True)
    body = revenue.get_json()
    assert (body["model"], body["recordId"], body["truncated"]) == ("dashboards", "revenue", False)
    assert body["upstream"] == [{"model": "tables", "id": "customers", "stored": True},
                                {"model": "tables", "id": "orders", "stored": True}]
    assert body["downstream"] == [] and body["_links"]["inf:downstream"] == []
    links = body["_links"]["inf:upstream"]
    assert [link["name"] for link in links] == ["tables/customers", "tables/orders"]
    orders_href = links[1]["href"]
    assert orders_href == f"/api/integrations/{integration}/records/tables/orders"
    record = client.get(orders_href, headers=member.headers)
    assert record.status_code == 200

    orders = client.get(record.get_json()["_links"]["inf:lineage"]["href"],
                        headers=member.headers).get_json()
    assert orders["upstream"] == [{"model": "tables", "id": "raw/orders", "stored": False}]
    assert orders["downstream"] == [{"model": "dashboards", "id": "revenue", "stored": False}]
    assert orders["_links"]["inf:record"]["href"] == orders_href
    assert orders["_links"]["inf:upstream"][0]["href"] == (
        f"/api/integrations/{integration}/records/tables/raw%2Forders")


def test_a_record_links_its_lineage(client, member, integration):
    upload(client, member, integration, TABLES, lines())
    record = client.get(f"/api/integrations/{integration}/records/tables/orders",
                        headers=member.headers).get_json()
    assert record["_links"]["inf:lineage"]["href"] == (
        f"/api/integrations/{integration}/lineage?model=tables&recordId=orders")


def test_a_bad_lineage_line_refuses_the_whole_import(client, member, integration):
    answer = upload(client, member, integration, TABLES, lines(
        {"upstream": "orders", "downstream": "customers"},
        {"upstream": "orders"},
        {"upstream": "orders", "downstream": "orders"},
        {"upstream": {"model": "bad model", "id": "x"}, "downstream": "orders"},
        {"upstream": {"id": ".."}, "downstream": "orders"}) + b"not json\n")

    problem = assert_problem(answer, 422, "import_invalid")
    assert [(e["line"], e["message"].split(":")[0]) for e in problem["errors"]] == [
        (line, "lineages_file") for line in (2, 3, 4, 5, 6)]
    assert client.get(f"/api/integrations/{integration}/records",
                      headers=member.headers).get_json()["total"] == 0
    assert lineage(client, member, integration, "tables", "orders").get_json()[
        "downstream"] == []


def test_partial_stores_the_good_pairs(client, member, integration):
    answer = upload(client, member, integration, TABLES, lines(
        {"upstream": "orders", "downstream": "customers"}, {"upstream": 1}), partial="true")

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["lineages"] == 1
    assert [e["line"] for e in answer.get_json()["errors"]] == [2]


def test_partial_reads_past_the_listed_problems(client, member, integration):
    """101 bad lines, then good pairs: the file is read whole, as the records file is, so
    every good pair is stored; only the list of problems stops at its first 100 lines."""
    bad = [{"upstream": 1}] * 101
    good = [{"upstream": "orders", "downstream": f"d{n}"} for n in range(5)]

    answer = upload(client, member, integration, TABLES, lines(*bad, *good), partial="true")

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["lineages"] == 5
    assert [e["line"] for e in answer.get_json()["errors"]] == list(range(1, 101))
    downstream = lineage(client, member, integration, "tables", "orders").get_json()
    assert [item["id"] for item in downstream["downstream"]] == [f"d{n}" for n in range(5)]


def test_lineage_needs_read_access_and_goes_with_the_integration(
        client, member, admin, make_caller, integration):
    upload(client, member, integration, TABLES, lines({"upstream": "orders",
                                                       "downstream": "customers"}))
    outsider = make_caller("olaf")

    assert_problem(lineage(client, outsider, integration, "tables", "orders"), 404,
                   "integration_not_found")
    deleted = client.delete(f"/api/integrations/{integration}?force=true", headers=admin.headers)
    assert deleted.status_code == 204
    assert_problem(lineage(client, admin, integration, "tables", "orders"), 404,
                   "integration_not_found")


@pytest.mark.parametrize("query", [{"model": "tables"}, {"model": "bad model", "recordId": "x"},
                                   {"recordId": "x" * 257}],
                         ids=["no-record-id", "bad-model", "long-id"])
def test_a_bad_lineage_question_is_422(client, member, integration, query):
    answer = client.get(f"/api/integrations/{integration}/lineage", headers=member.headers,
                        query_string=query)
    assert_problem(answer, 422, "validation_failed")
