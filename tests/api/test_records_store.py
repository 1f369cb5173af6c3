"""The records store over HTTP: imports (CSV, JSON Lines, every bad file), store operations
(list, get, sum in SQL), the records page and the delete guard."""

from __future__ import annotations

import dataclasses
import io

import pytest


@pytest.fixture
def store(make_integration):
    """An integration mia may write (share level 2) and rita may only read."""
    return make_integration("Store", auth_type="none", shares={"mia": 2, "rita": 1})


def upload(client, caller, integration, content: bytes, **form):
    return client.post(f"/api/integrations/{integration}/import", headers=caller.headers,
                       data={"resources_file": (io.BytesIO(content), "file"), **form},
                       content_type="multipart/form-data")


def listed(client, caller, integration, model="resources"):
    answer = client.get(f"/api/integrations/{integration}/records", headers=caller.headers,
                        query_string={"model": model, "limit": 500})
    assert answer.status_code == 200
    return {r["id"]: r["data"] for r in answer.get_json()["_embedded"]["inf:record"]}


def op(client, caller, integration, **body):
    return client.post(f"/api/integrations/{integration}/store", headers=caller.headers, json=body)


CSV = b"id,name,amount,code\n1,Ada,12,007\n2,\"Bob, Jr\",0.5,\n3,Cy,-3,x\n"


def test_csv_import_then_records_with_types(client, member, store):
    answer = upload(client, member, store, CSV)

    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["format"], body["created"], body["updated"], body["errors"]) == ("csv", 3, 0, [])
    assert listed(client, member, store) == {
        "1": {"id": "1", "name": "Ada", "amount": 12, "code": "007"},
        "2": {"id": "2", "name": "Bob, Jr", "amount": 0.5, "code": None},
        "3": {"id": "3", "name": "Cy", "amount": -3, "code": "x"}}


def test_jsonl_import_upserts_by_id(client, member, store):
    first = upload(client, member, store, b'{"id": 1, "v": 1}\n{"id": "b", "v": [1]}\n',
                   model="things")
    again = upload(client, member, store, b'{"id": 1, "v": 2}\n{"id": "b", "v": [1]}\n'
                   b'{"id": "c"}\n', model="things")

    assert (first.get_json()["created"], first.get_json()["format"]) == (2, "jsonl")
    assert (again.get_json()["created"], again.get_json()["updated"]) == (1, 1)  # "b" unchanged
    assert listed(client, member, store, "things") == {
        "1": {"id": 1, "v": 2}, "b": {"id": "b", "v": [1]}, "c": {"id": "c"}}


@pytest.mark.parametrize("content, line, words", [
    (b"name,amount\nAda,1\n", 1, "no id column"),
    (b"id,name,name\n1,a,b\n", 1, "repeats"),
    (b"id,name\n1,a\n2,b,c\n", 3, "expected 2 fields"),
    (b'{"id": 1}\n{"id": 2,\n', 2, "not valid JSON"),
    (b'{"id": 1}\n{"id": 1}\n', 2, "duplicate id"),
    (b"id,name\n1,a\n1,b\n", 3, "duplicate id"),
    (b'{"id": 1}\n[1, 2]\n', 2, "JSON object"),
    (b'{"name": "no id"}\n', 1, "id is missing"),
    (b"", 1, "empty"),
    (b"id,name\n1,\xff\n", 2, "not UTF-8"),
])
def test_a_bad_file_changes_nothing(client, member, store, content, line, words):
    upload(client, member, store, b'{"id": "kept", "v": 1}\n')

    answer = upload(client, member, store, content)

    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert problem["code"] == "import_invalid" and (problem["created"], problem["updated"]) == (0, 0)
    assert any(e["line"] == line and words in e["message"] for e in problem["errors"]), problem
    assert listed(client, member, store) == {"kept": {"id": "kept", "v": 1}}


def test_partial_import_takes_the_good_lines_and_lists_the_bad(client, member, store):
    answer = upload(client, member, store, b'{"id": 1}\nnot json\n{"id": 3}\n', partial="true")

    assert answer.status_code == 200
    assert answer.get_json()["created"] == 2
    assert [e["line"] for e in answer.get_json()["errors"]] == [2]
    assert set(listed(client, member, store)) == {"1", "3"}


def test_oversize_missing_file_wrong_type_and_bad_model(app, client, member, store):
    settings = app.config["HUB_SETTINGS"]
    app.config["HUB_SETTINGS"] = dataclasses.replace(settings, import_max_bytes=100)
    try:
        too_big = upload(client, member, store, b"id,n\n" + b"1,x\n" * 30)
        declared = upload(client, member, store, b"id,n\n" + b"1,x\n" * 40_000)
    finally:
        app.config["HUB_SETTINGS"] = settings
    missing = client.post(f"/api/integrations/{store}/import", headers=member.headers,
                          data={"model": "x"}, content_type="multipart/form-data")
    as_json = client.post(f"/api/integrations/{store}/import", headers=member.headers,
                          json={"resources_file": "id\n1\n"})
    bad_model = upload(client, member, store, b'{"id": 1}\n', model="no spaces please")

    assert (too_big.status_code, too_big.get_json()["code"]) == (413, "import_too_large")
    assert (declared.status_code, declared.get_json()["code"]) == (413, "import_too_large")
    assert missing.status_code == 422 and as_json.status_code == 415
    assert bad_model.status_code == 422
    assert listed(client, member, store) == {}


def test_who_may_import_and_read(client, make_caller, member, store):
    reader, stranger = make_caller("rita"), make_caller("sam")
    outsider = make_caller("olga", tenant="other")
    upload(client, member, store, CSV)

    assert upload(client, reader, store, CSV).status_code == 403
    assert op(client, reader, store, op="list").status_code == 200
    for caller in (stranger, outsider):
        assert upload(client, caller, store, CSV).status_code == 404
        assert op(client, caller, store, op="list").status_code == 404
        assert client.get(f"/api/integrations/{store}/records",
                          headers=caller.headers).status_code == 404


def test_store_list_get_and_sum(client, member, store):
    upload(client, member, store, b'{"id": "a", "n": 1, "p": 0.1, "t": "x"}\n'
           b'{"id": "b", "n": 2, "p": 0.2, "t": "y"}\n{"id": "c", "n": "3", "p": null}\n'
           b'{"id": "d", "n": true}\n')
    upload(client, member, store, b'{"id": "z", "n": 100}\n', model="other")

    page = op(client, member, store, op="list", limit=2, offset=1, fields=["n"]).get_json()
    got = op(client, member, store, op="get", id="b").get_json()
    total = op(client, member, store, op="sum", fields=["n", "p", "missing"]).get_json()

    assert (page["total"], [r["id"] for r in page["records"]]) == (4, ["b", "c"])
    assert page["records"][0]["data"] == {"n": 2}
    assert got["record"]["data"]["t"] == "y"
    assert total["count"] == 4 and total["sums"]["n"] == 3  # "3" and true are not numbers
    assert total["sums"]["p"] == pytest.approx(0.3) and total["sums"]["missing"] == 0
    missing = op(client, member, store, op="get", id="nope")
    assert (missing.status_code, missing.get_json()["code"]) == (404, "record_not_found")
    assert op(client, member, store, op="get").status_code == 422
    assert op(client, member, store, op="sum", fields=["a'b"]).status_code == 422
    assert op(client, member, store, op="drop").status_code == 422


def test_records_page_links_resolve_for_odd_ids(client, member, store):
    upload(client, member, store, '{"id": "a/b c"}\n{"id": "ü-1"}\n'.encode())

    page = client.get(f"/api/integrations/{store}/records?limit=1", headers=member.headers)

    assert page.get_json()["total"] == 2 and "next" in page.get_json()["_links"]
    for item in listed_items(client, member, store):
        followed = client.get(item["_links"]["self"]["href"], headers=member.headers)
        assert followed.status_code == 200 and followed.get_json()["id"] == item["id"]


def listed_items(client, caller, integration):
    answer = client.get(f"/api/integrations/{integration}/records", headers=caller.headers)
    return answer.get_json()["_embedded"]["inf:record"]


def test_delete_guard_counts_records(client, admin, member, store):
    upload(client, member, store, CSV)

    refused = client.delete(f"/api/integrations/{store}", headers=admin.headers)
    forced = client.delete(f"/api/integrations/{store}?force=true", headers=admin.headers)

    assert refused.status_code == 409 and refused.get_json()["counts"]["records"] == 3
    assert forced.status_code == 204
