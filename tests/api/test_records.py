"""The records store over HTTP: the records pages, one record, ``POST .../store`` (list, get,
sum), who may read it, and deleting an integration that holds records."""

import io

import pytest
from sqlalchemy import func, select

from integration_hub.db.models import Record
from integration_hub.db.types import utcnow
from integration_hub.records import store as records
from tests.support.problems import assert_problem


@pytest.fixture
def integration(make_integration):
    """An integration mia may read (share level 1) and the admin owns."""
    return make_integration("Records", type="custom", auth_type="none", shares={"mia": 1})


@pytest.fixture
def seed(session):
    """Factory: store ``items`` {id: data} in a model, as an import or sync would; with
    ``replace=True`` the model then holds exactly these (others marked deleted)."""

    def put(integration: str, items: dict, model: str = "resources", replace: bool = False):
        if replace:
            records.replace_model(session, integration, model, items, utcnow())
        else:
            records.upsert(session, integration, model, items, utcnow())
        session.commit()

    return put



def page(client, caller, integration, **query) -> dict:
    answer = client.get(f"/api/integrations/{integration}/records", headers=caller.headers,
                        query_string=query)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "application/hal+json"
    return answer.get_json()


def keys(document) -> list[tuple[str, str]]:
    return [(item["model"], item["id"]) for item in document["_embedded"]["inf:record"]]


def store(client, caller, integration, **body):
    return client.post(f"/api/integrations/{integration}/store", headers=caller.headers,
                       json=body)


def stored(client, caller, integration, **body) -> dict:
    answer = store(client, caller, integration, **body)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    result = answer.get_json()
    assert result["_links"]["self"]["href"] == f"/api/integrations/{integration}/store"
    return result


# -- the records pages --------------------------------------------------------------------------

def test_records_page_items_and_links(client, member, integration, seed):
    seed(integration, {"r1": {"id": "r1", "name": "one", "n": 1}})

    document = page(client, member, integration)

    assert document["total"] == 1 and document["start"] == 0 and document["count"] == 1
    (item,) = document["_embedded"]["inf:record"]
    assert item["id"] == "r1" and item["model"] == "resources" and item["deleted"] is False
    assert item["data"] == {"id": "r1", "name": "one", "n": 1}
    assert item["updatedAt"]
    assert item["_links"] == {
        "self": {"href": f"/api/integrations/{integration}/records/resources/r1"},
        "inf:lineage": {"href": f"/api/integrations/{integration}/lineage?model=resources"
                                "&recordId=r1"},
        "inf:integration": {"href": f"/api/integrations/{integration}"}}
    assert list(item)[0] == "_links"


def test_records_page_paging(client, member, integration, seed):
    seed(integration, {f"r{n}": {"n": n} for n in range(1, 6)})

    first = page(client, member, integration, limit=2)
    assert first["total"] == 5 and first["count"] == 2
    assert keys(first) == [("resources", "r1"), ("resources", "r2")]
    assert "prev" not in first["_links"]
    middle = client.get(first["_links"]["next"]["href"], headers=member.headers).get_json()
    assert middle["start"] == 2 and keys(middle) == [("resources", "r3"), ("resources", "r4")]
    last = client.get(middle["_links"]["last"]["href"], headers=member.headers).get_json()
    assert keys(last) == [("resources", "r5")] and "next" not in last["_links"]
    back = client.get(last["_links"]["prev"]["href"], headers=member.headers).get_json()
    assert keys(back) == keys(middle)
    beyond = page(client, member, integration, start=10, limit=2)
    assert beyond["total"] == 5 and beyond["count"] == 0 and beyond["_embedded"]["inf:record"] == []


def test_records_are_ordered_by_model_then_id(client, member, integration, seed):
    seed(integration, {"b": {}, "a": {}}, model="zeta")
    seed(integration, {"c": {}, "a": {}, "b": {}}, model="alpha")
    seed(integration, {"z": {}}, model="middle")

    assert keys(page(client, member, integration)) == [
        ("alpha", "a"), ("alpha", "b"), ("alpha", "c"), ("middle", "z"), ("zeta", "a"),
        ("zeta", "b")]


def test_model_filter_is_kept_on_the_paging_links(client, member, integration, seed):
    seed(integration, {"o1": {}, "o2": {}, "o3": {}}, model="orders")
    seed(integration, {"o1": {}, "x": {}})

    orders = page(client, member, integration, model="orders", limit=2)
    assert orders["total"] == 3 and keys(orders) == [("orders", "o1"), ("orders", "o2")]
    assert "model=orders" in orders["_links"]["next"]["href"]
    rest = client.get(orders["_links"]["next"]["href"], headers=member.headers).get_json()
    assert keys(rest) == [("orders", "o3")]
    assert page(client, member, integration, model="nothing")["total"] == 0
    assert page(client, member, integration)["total"] == 5


def test_deleted_records_only_on_request(client, member, integration, seed):
    seed(integration, {"keep": {"v": 1}, "gone": {"v": 2}})
    seed(integration, {"keep": {"v": 1}}, replace=True)  # a sync no longer lists "gone"

    assert keys(page(client, member, integration)) == [("resources", "keep")]
    everything = page(client, member, integration, includeDeleted="true")
    assert everything["total"] == 2
    deleted = {item["id"]: item["deleted"] for item in everything["_embedded"]["inf:record"]}
    assert deleted == {"gone": True, "keep": False}
    assert "includeDeleted=true" in everything["_links"]["self"]["href"]
    one = client.get(f"/api/integrations/{integration}/records/resources/gone",
                     headers=member.headers)
    assert one.status_code == 200 and one.get_json()["deleted"] is True


TRICKY_IDS = ["a/b/c", "with space", "ünïcødé/東京", "100%", "q?x=1&y=2#frag", "a+b", "dot.",
              "semi;colon", "tab\tand\nnewline", "emoji 😀", "%2F", "..", "a/./b", "a/../b",
              "trailing/", "/leading", "a//b", "x" * 256]


def test_record_self_links_resolve_for_any_id(client, member, integration, seed):
    seed(integration, {record_id: {"id": record_id, "n": n} for n, record_id in
                       enumerate(TRICKY_IDS)})
    document = page(client, member, integration, limit=500)
    assert document["total"] == len(TRICKY_IDS)

    for item in document["_embedded"]["inf:record"]:
        answer = client.get(item["_links"]["self"]["href"], headers=member.headers)
        assert answer.status_code == 200, (item["id"], item["_links"]["self"]["href"],
                                           answer.get_data(as_text=True))
        assert answer.mimetype == "application/hal+json"
        one = answer.get_json()
        assert (one["id"], one["model"], one["data"]) == (item["id"], "resources", item["data"])
        assert one["_links"] == item["_links"]
    assert sorted(item["id"] for item in document["_embedded"]["inf:record"]) == sorted(
        TRICKY_IDS)


def test_one_record_errors(client, member, integration, seed):
    seed(integration, {"r1": {}}, model="orders")
    base = f"/api/integrations/{integration}/records"

    assert_problem(client.get(f"{base}/resources/r1", headers=member.headers), 404,
                   "record_not_found")
    assert_problem(client.get(f"{base}/orders/r2", headers=member.headers), 404,
                   "record_not_found")
    assert_problem(client.get(f"{base}/bad%20model/r1", headers=member.headers), 422,
                   "validation_failed")
    assert client.get(f"{base}/orders/r1", headers=member.headers).status_code == 200
    assert client.get(f"{base}/orders/r1").status_code == 401


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 501}, {"start": -1},
                                   {"model": "bad model"}, {"model": "m" * 65},
                                   {"includeDeleted": "perhaps"}])
def test_records_page_validation(client, member, integration, query):
    answer = client.get(f"/api/integrations/{integration}/records", headers=member.headers,
                        query_string=query)
    assert assert_problem(answer, 422, "validation_failed")["errors"]


# -- POST .../store -----------------------------------------------------------------------------

@pytest.fixture
def people(integration, seed):
    seed(integration, {f"p{n}": {"id": f"p{n}", "name": f"person {n}", "age": 20 + n,
                                 "city": "Bonn" if n % 2 else None} for n in range(1, 6)})
    seed(integration, {"p1": {"id": "p1", "name": "an order"}}, model="orders")
    return integration


def test_store_list_with_limit_offset_and_total(client, member, people):
    result = stored(client, member, people, op="list", limit=2, offset=1)

    assert (result["op"], result["model"], result["total"]) == ("list", "resources", 5)
    assert (result["offset"], result["limit"]) == (1, 2)
    assert [r["id"] for r in result["records"]] == ["p2", "p3"]
    first = result["records"][0]
    assert first["model"] == "resources" and first["deleted"] is False and first["updatedAt"]
    assert first["data"] == {"id": "p2", "name": "person 2", "age": 22, "city": None}
    links = result["_links"]
    assert links["inf:records"]["href"] == f"/api/integrations/{people}/records"
    assert links["inf:integration"]["href"] == f"/api/integrations/{people}"

    everything = stored(client, member, people, op="list")
    assert (everything["limit"], everything["offset"]) == (25, 0)
    assert [r["id"] for r in everything["records"]] == ["p1", "p2", "p3", "p4", "p5"]
    assert stored(client, member, people, op="list", offset=5)["records"] == []
    orders = stored(client, member, people, op="list", model="orders")
    assert orders["total"] == 1 and orders["records"][0]["data"] == {"id": "p1", "name": "an order"}


def test_store_list_leaves_out_deleted_records(client, member, people, seed):
    seed(people, {"p1": {"id": "p1"}}, replace=True)
    result = stored(client, member, people, op="list")
    assert result["total"] == 1 and [r["id"] for r in result["records"]] == ["p1"]


def test_store_fields_project_the_data(client, member, people):
    listed = stored(client, member, people, op="list", limit=2, fields=["name", "city", "absent"])
    assert [r["data"] for r in listed["records"]] == [{"name": "person 1", "city": "Bonn"},
                                                      {"name": "person 2", "city": None}]
    got = stored(client, member, people, op="get", id="p3", fields=["age"])
    assert got["record"]["data"] == {"age": 23} and got["record"]["id"] == "p3"


def test_store_get(client, member, people):
    got = stored(client, member, people, op="get", id="p4")
    assert (got["op"], got["model"]) == ("get", "resources")
    assert got["record"]["data"] == {"id": "p4", "name": "person 4", "age": 24, "city": None}
    order = stored(client, member, people, op="get", id="p1", model="orders")["record"]
    assert order["model"] == "orders" and order["data"]["name"] == "an order"

    missing = assert_problem(store(client, member, people, op="get", id="p9"), 404,
                             "record_not_found")
    assert "p9" in missing["detail"]
    assert_problem(store(client, member, people, op="get", id="p2", model="orders"), 404,
                   "record_not_found")
    no_id = assert_problem(store(client, member, people, op="get"), 422, "validation_failed")
    assert "id" in no_id["errors"]
    assert_problem(store(client, member, people, op="get", id=""), 422, "validation_failed")


def test_store_get_finds_tricky_ids(client, member, integration, seed):
    seed(integration, {record_id: {"n": 1} for record_id in TRICKY_IDS})
    for record_id in TRICKY_IDS:
        assert stored(client, member, integration, op="get", id=record_id)["record"]["id"] == record_id


def test_store_sum_adds_numbers_only(client, member, integration, seed):
    live = {
        "a": {"n": 1, "x": 0.1, "big": 4503599627370497},
        "b": {"n": 2, "x": 0.2, "big": 4503599627370497},
        "c": {"n": "3", "x": None, "big": "4503599627370497"},
        "d": {"n": True, "x": "abc", "big": False},
        "e": {"other": 5},
        "f": {"n": [1], "x": {"v": 1}, "nested": {"n": 7}},
        "g": {"n": -4, "x": 1.5e2, "big": -1},
        "h": {"n": 10, "x": -0.5, "big": 1e3},
    }
    seed(integration, {**live, "gone": {"n": 500, "x": 500.5}})
    seed(integration, live, replace=True)  # "gone" is marked deleted
    seed(integration, {"o": {"n": 1000, "x": 1000.25}}, model="orders")

    result = stored(client, member, integration, op="sum", fields=["n", "x", "big", "missing"])

    assert (result["op"], result["model"], result["count"]) == ("sum", "resources", 8)
    sums = result["sums"]
    assert set(sums) == {"n", "x", "big", "missing"}
    assert sums["n"] == 9  # 1 + 2 - 4 + 10: not "3", true, [1] or the deleted 500
    assert sums["x"] == pytest.approx(149.8)  # 0.1 + 0.2 + 150 - 0.5
    assert sums["big"] == 2 * 4503599627370497 - 1 + 1000  # exact beyond 2**53
    assert sums["missing"] == 0
    orders = stored(client, member, integration, op="sum", model="orders", fields=["n", "x"])
    assert orders["sums"] == {"n": 1000, "x": 1000.25} and orders["count"] == 1


def test_store_sum_of_decimals_and_integers(client, member, integration, seed):
    seed(integration, {"a": {"v": 0.1, "i": 7}, "b": {"v": 0.2, "i": 8}})
    sums = stored(client, member, integration, op="sum", fields=["v", "i"])["sums"]
    assert sums["v"] == pytest.approx(0.3) and sums["i"] == 15
    assert type(sums["i"]) is int

    empty = stored(client, member, integration, op="sum", model="nothing", fields=["v"])
    assert empty["sums"] == {"v": 0} and empty["count"] == 0


def test_store_sum_of_large_integers_is_exact(client, member, integration, seed):
    seed(integration, {"a": {"n": 9_000_000_000_000_000_000, "r": 0.5},
                       "b": {"n": 9_000_000_000_000_000_000, "r": 0.5},
                       "c": {"n": -(2 ** 63), "r": 2.0},
                       "d": {"n": 2 ** 63 - 1}})
    sums = stored(client, member, integration, op="sum", fields=["n", "r"])["sums"]
    assert sums == {"n": 18_000_000_000_000_000_000 - 1, "r": 3}
    assert type(sums["r"]) is int  # 0.5 + 0.5 + 2.0: a whole number, as on PostgreSQL

    seed(integration, {"e": {"n": 0.25}})  # one real among the integers
    assert stored(client, member, integration, op="sum", fields=["n"])["sums"] == {
        "n": pytest.approx(18_000_000_000_000_000_000 - 1 + 0.25)}


@pytest.mark.parametrize("fields", [["a b"], ['x"y'], ["a.b"], ["$"], [""], ["x" * 65],
                                    ["ok", "bad'one"], [], ["f"] * 51])
def test_store_sum_needs_plain_field_names(client, member, integration, seed, fields):
    seed(integration, {"a": {"ok": 1}})
    body = assert_problem(store(client, member, integration, op="sum", fields=fields), 422,
                          "validation_failed")
    assert "fields" in body["errors"]


@pytest.mark.parametrize("body", [
    {"op": "count"}, {}, {"model": "resources"}, {"op": "list", "model": "bad model"},
    {"op": "list", "model": ""}, {"op": "list", "limit": 0}, {"op": "list", "limit": 501},
    {"op": "list", "offset": -1}, {"op": "list", "unknown": 1}, {"op": "sum"},
    {"op": "list", "fields": ["bad field"]}, {"op": "get", "id": "x" * 257},
    {"op": "list", "fields": "name"},
])
def test_store_validation(client, member, integration, body):
    answer = client.post(f"/api/integrations/{integration}/store", headers=member.headers,
                         json=body)
    assert assert_problem(answer, 422, "validation_failed")["errors"]


def test_store_needs_a_json_body(client, member, integration):
    answer = client.post(f"/api/integrations/{integration}/store", headers=member.headers,
                         data="op=list", content_type="application/x-www-form-urlencoded")
    assert_problem(answer, 415, "unsupported_media_type")


# -- who may read -------------------------------------------------------------------------------

def test_readers_read_others_do_not_see_the_integration(client, admin, member, make_caller,
                                                       integration, seed):
    seed(integration, {"r1": {"n": 1}})
    stranger = make_caller("sam")
    foreign = make_caller("fred", tenant="other", superuser=True)
    record = f"/api/integrations/{integration}/records/resources/r1"

    for reader in (admin, member):
        assert page(client, reader, integration)["total"] == 1
        assert client.get(record, headers=reader.headers).status_code == 200
        assert stored(client, reader, integration, op="list")["total"] == 1
        assert stored(client, reader, integration, op="sum", fields=["n"])["sums"] == {"n": 1}
        assert stored(client, reader, integration, op="get", id="r1")["record"]["id"] == "r1"
    # mia reads, but may not import
    answer = client.post(f"/api/integrations/{integration}/import", headers=member.headers,
                         data={"resources_file": (io.BytesIO(b"id\nr2\n"), "a.csv")},
                         content_type="multipart/form-data")
    assert_problem(answer, 403, "forbidden")

    for outsider in (stranger, foreign):
        for answer in (
                client.get(f"/api/integrations/{integration}/records", headers=outsider.headers),
                client.get(record, headers=outsider.headers),
                client.get(f"/api/integrations/{integration}/records/resources/none",
                           headers=outsider.headers),
                store(client, outsider, integration, op="list"),
                store(client, outsider, integration, op="get", id="r1"),
                store(client, outsider, integration, op="sum", fields=["n"]),
                client.post(f"/api/integrations/{integration}/import", headers=outsider.headers,
                            data={"resources_file": (io.BytesIO(b"id\nr2\n"), "a.csv")},
                            content_type="multipart/form-data")):
            assert_problem(answer, 404, "integration_not_found")
    assert page(client, admin, integration)["total"] == 1


def test_records_need_a_token(client, integration):
    for answer in (client.get(f"/api/integrations/{integration}/records"),
                   client.post(f"/api/integrations/{integration}/store", json={"op": "list"})):
        assert_problem(answer, 401, "authentication_required")


def test_unknown_integration_is_404(client, member):
    assert_problem(client.get("/api/integrations/nope/records", headers=member.headers), 404,
                   "integration_not_found")
    assert_problem(store(client, member, "nope", op="list"), 404, "integration_not_found")


# -- deleting an integration with records -------------------------------------------------------

def test_an_integration_with_records_is_only_deleted_with_force(client, admin, integration, seed,
                                                                session):
    seed(integration, {"r1": {}, "r2": {}})
    seed(integration, {"o1": {}}, model="orders")
    seed(integration, {"r1": {}}, replace=True)  # deleted records count too

    refused = assert_problem(client.delete(f"/api/integrations/{integration}",
                                           headers=admin.headers), 409, "integration_in_use")
    assert refused["counts"]["records"] == 3
    assert "3 records" in refused["detail"]
    assert page(client, admin, integration, includeDeleted="true")["total"] == 3

    answer = client.delete(f"/api/integrations/{integration}?force=true", headers=admin.headers)
    assert answer.status_code == 204, answer.get_data(as_text=True)
    assert client.get(f"/api/integrations/{integration}", headers=admin.headers).status_code == 404
    left = session.scalar(select(func.count()).select_from(Record)
                          .where(Record.integration_id == integration))
    assert left == 0


def test_an_integration_without_records_is_deleted_at_once(client, admin, make_integration, seed):
    other = make_integration("Other", type="custom", auth_type="none")
    kept = make_integration("Kept", type="custom", auth_type="none")
    seed(kept, {"r1": {"v": 1}})

    assert client.delete(f"/api/integrations/{other}", headers=admin.headers).status_code == 204
    assert page(client, admin, kept)["total"] == 1  # other integrations' records stay
