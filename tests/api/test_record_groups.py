"""``GET .../record-groups``: how many live records hold each value of a field, counted in
SQL alike on both databases (docs/decisions.md, "Record groups")."""

from __future__ import annotations

import pytest

from integration_hub.db.types import utcnow
from integration_hub.records import groups as record_groups
from integration_hub.records import store as records
from tests.support.problems import assert_problem

TICKETS = {
    "t1": {"status": "open", "priority": 1},
    "t2": {"status": "open", "priority": 1.0},
    "t3": {"status": "closed", "priority": 2},
    "t4": {"status": "open", "priority": "1"},
    "t5": {"status": None, "priority": True},
    "t6": {"priority": False},
    "t7": {"status": {"nested": 1}, "priority": [1]},
    "t8": {"status": "Open", "priority": 3},
}


@pytest.fixture
def integration(make_integration, session):
    integration = make_integration("Desk", type="custom", auth_type="none", shares={"mia": 1})
    records.upsert(session, integration, "tickets",
                   {key: {"id": key, **value} for key, value in TICKETS.items()}, utcnow())
    records.replace_model(session, integration, "gone", {}, utcnow())
    session.commit()
    return integration


def groups(client, caller, integration, **query) -> dict:
    answer = client.get(f"/api/integrations/{integration}/record-groups",
                        headers=caller.headers, query_string={"model": "tickets", **query})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "application/hal+json"
    return answer.get_json()


def pairs(document) -> list:
    return [(item["value"], item["count"]) for item in document["_embedded"]["inf:record-group"]]


def test_groups_count_each_value_largest_first(client, member, integration):
    document = groups(client, member, integration, column="status")

    assert pairs(document) == [("open", 3), (None, 2), ("Open", 1), ("closed", 1)]
    assert document["ungrouped"] == 1 and document["truncated"] is False
    assert document["total"] == 4


def test_numbers_group_by_value_and_text_and_booleans_apart(client, member, integration):
    document = groups(client, member, integration, column="priority")

    assert pairs(document) == [(1, 2), (2, 1), (3, 1), ("1", 1), (False, 1), (True, 1)]
    assert document["ungrouped"] == 1


@pytest.mark.parametrize("where", ["(priority,notblank)",
                                   "(priority,eq,1)~or(priority,eq,2)~or(priority,blank)"])
def test_each_group_links_to_its_records(client, member, integration, where):
    """A link keeps the request's filter, grouped as it was written (a ~or under the
    group's ~and)."""
    document = groups(client, member, integration, column="status", where=where)

    for item in document["_embedded"]["inf:record-group"]:
        listed = client.get(item["_links"]["self"]["href"], headers=member.headers)
        assert listed.status_code == 200, listed.get_data(as_text=True)
        ids = [record["id"] for record in listed.get_json()["_embedded"]["inf:record"]]
        values = {record["data"].get("status") for record in
                  listed.get_json()["_embedded"]["inf:record"]}
        assert len(ids) == item["count"] and values == {item["value"]}


def test_where_narrows_the_groups(client, member, integration):
    document = groups(client, member, integration, column="status", where="(priority,eq,1)")

    assert pairs(document) == [("open", 3)]  # t1, t2 (1.0) and t4 ("1" equals 1 written)


def test_paging_the_groups(client, member, integration):
    document = groups(client, member, integration, column="status", limit=2, start=2)

    assert pairs(document) == [("Open", 1), ("closed", 1)]
    assert document["_links"]["prev"]["href"].count("column=status") == 1


def test_a_bad_column_or_where_is_422(client, member, integration):
    for query, code in (({"column": "a b"}, "validation_failed"),
                        ({"column": "status", "where": "(x,zz,1)"}, "where_invalid"),
                        ({}, "validation_failed")):
        answer = client.get(f"/api/integrations/{integration}/record-groups",
                            headers=member.headers, query_string={"model": "tickets", **query})
        assert_problem(answer, 422, code)


def test_a_stranger_gets_404(client, make_caller, integration):
    answer = client.get(f"/api/integrations/{integration}/record-groups",
                        headers=make_caller("sam").headers, query_string={"column": "status"})
    assert_problem(answer, 404, "integration_not_found")


@pytest.mark.parametrize(("value", "where"), [
    (None, "(c,blank)"), (True, "(c,eq,true)"), (2, "(c,eq,2)"), (0.5, "(c,eq,0.5)"),
    ("a,b(c)~d\\", "(c,eq,a\\,b\\(c\\)\\~d\\\\)")])
def test_a_group_filter_is_written_escaped(value, where):
    assert record_groups.filter_for("c", value) == where


def test_a_group_filter_keeps_the_requests_filter_grouped():
    assert record_groups.filter_for("c", "x", "(a,eq,1)~or(b,eq,2)") == \
        "((a,eq,1)~or(b,eq,2))~and(c,eq,x)"
    assert record_groups.filter_for("c", None, "(a,eq,1)~and(b,eq,2)") == \
        "(a,eq,1)~and(b,eq,2)~and(c,blank)"


def test_a_group_filter_the_parser_would_refuse_is_none():
    """The parser's limits (records/where.py) hold for the built filter, not only for the
    request's: past one, no filter (and no link) rather than one that answers 422."""
    assert record_groups.filter_for("c", "v" * 1986) == "(c,eq," + "v" * 1986 + ")"  # 1,994
    assert record_groups.filter_for("c", "v" * 1995) is None  # 2,001 characters
    assert record_groups.filter_for("c", "x", "~and".join(["(a,blank)"] * 49)) is not None
    assert record_groups.filter_for("c", "x", "~and".join(["(a,blank)"] * 50)) is None
    nested = "~not" * 8 + "(a,eq,1)~or(b,eq,2)"  # depth 8, then the ~or put in parentheses
    assert record_groups.filter_for("c", "x", nested) is None
    assert record_groups.filter_for("c", "x", "~not" * 7 + "(a,eq,1)~or(b,eq,2)") is not None


def follow(client, caller, item) -> list[str]:
    """The ids a group's link lists (it must answer 200, never 422)."""
    answer = client.get(item["_links"]["self"]["href"], headers=caller.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return sorted(record["id"] for record in answer.get_json()["_embedded"]["inf:record"])


def test_a_group_too_long_to_filter_links_to_every_groups_records(client, member,
                                                                   integration, session):
    """A value too long for a ``where`` (2,000 characters) is still a group, counted; its
    link cannot narrow to it, so it lists the records every group was counted in (an
    embedded item always has its self link, docs/api-conventions.md). The other groups'
    links still list exactly their records."""
    long = "x" * 1995
    records.upsert(session, integration, "tickets", {"t9": {"id": "t9", "status": long}},
                   utcnow())
    session.commit()

    document = groups(client, member, integration, column="status", where="(id,neq,t1)")

    listed = {item["value"]: item for item in document["_embedded"]["inf:record-group"]}
    assert listed[long]["count"] == 1
    assert follow(client, member, listed[long]) == [f"t{n}" for n in range(2, 10)]
    assert follow(client, member, listed["open"]) == ["t2", "t4"]
    assert follow(client, member, listed["closed"]) == ["t3"]


@pytest.mark.parametrize("terms", [49, 50])
def test_a_where_of_50_terms_still_gives_links_that_answer(client, member, integration,
                                                           terms):
    """A request ``where`` of 50 terms is accepted; each group's own filter would be 51,
    past the limit, so each link lists the records the request's ``where`` selects. At 49
    each link lists exactly its group."""
    where = "~and".join(["(id,neq,t8)"] * terms)

    document = groups(client, member, integration, column="status", where=where)

    assert pairs(document) == [("open", 3), (None, 2), ("closed", 1)]
    everyone = ["t1", "t2", "t3", "t4", "t5", "t6", "t7"]  # t7's status is an object
    for item in document["_embedded"]["inf:record-group"]:
        ids = follow(client, member, item)
        assert len(ids) == item["count"] if terms == 49 else ids == everyone
