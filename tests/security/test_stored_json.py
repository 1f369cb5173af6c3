"""JSON the hub's database holds is always read back: a value nested deeper than the hub reads
(written before request bodies were limited to 100 levels, or by another tool) used to make
the JSON loader of the database driver raise RecursionError, a 500 on every page showing it.
Its too-deep parts now come back as their JSON text; what the API accepts comes back intact.
So does a database integration's answer: a user's query chooses how deep its JSON nests."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import text

from integration_hub.json_body import MAX_DEPTH
from tests.api import test_database_query as database_integrations
from tests.api.test_database_query import query

# The fixtures of database integrations: a seeded PostgreSQL ``target``, ``make_db`` of it.
sqlite_root, targets, target = (database_integrations.sqlite_root, database_integrations.targets,
                                database_integrations.target)
db_app, hub = database_integrations.db_app, database_integrations.hub
make_db = database_integrations.make_db

DEEP = 3_000  # as deep as an older release let Python's parser go, and beyond


@pytest.fixture
def integration(make_integration):
    return make_integration("Records", type="custom", auth_type="none", shares={"mia": 2})


def write_raw(session, table: str, column: str, document: str, **where) -> None:
    """Store ``document`` as it is, the way an older release or another tool did."""
    cast = {"integrations": "json", "records": "jsonb"}[table]
    value = f"CAST(:document AS {cast})" if session.get_bind().dialect.name == "postgresql" \
        else ":document"
    condition = " AND ".join(f"{name} = :{name}" for name in where)
    changed = session.execute(text(f"UPDATE {table} SET {column} = {value} WHERE {condition}"),
                              {"document": document, **where}).rowcount
    assert changed == 1
    session.commit()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def as_text_below(value, levels: int) -> str:
    """Follows the first item down ``levels`` levels of arrays; the text found there."""
    for _ in range(levels):
        assert isinstance(value, list) and len(value) == 1
        value = value[0]
    assert isinstance(value, str), value
    return value


def test_a_deep_integration_data_value_is_read_back_as_text(client, session, admin, member,
                                                            integration):
    write_raw(session, "integrations", "data",
              '{"keep": 1, "deep": ' + nested(DEEP) + "}", id=integration)

    for answer in (client.get(f"/api/integrations/{integration}", headers=member.headers),
                   client.get("/api/integrations", headers=member.headers)):
        assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    data = client.get(f"/api/integrations/{integration}", headers=member.headers).get_json()["data"]
    assert data["keep"] == 1
    # the object is level 1, "deep" level 2: levels 2 to 100 stay arrays, the rest is text
    assert as_text_below(data["deep"], MAX_DEPTH - 1) == nested(DEEP - MAX_DEPTH + 1)


def test_a_deep_record_is_read_back_as_text(client, session, member, integration):
    answer = client.post(f"/api/integrations/{integration}/import", headers=member.headers,
                         data={"resources_file": (io.BytesIO(b'{"id": "r1"}\n'), "r.jsonl")},
                         content_type="multipart/form-data")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    write_raw(session, "records", "data", '{"id": "r1", "v": ' + nested(DEEP) + "}",
              integration_id=integration, record_id="r1")

    answer = client.get(f"/api/integrations/{integration}/records", headers=member.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    (record,) = answer.get_json()["_embedded"]["inf:record"]
    assert as_text_below(record["data"]["v"], MAX_DEPTH - 1) == nested(DEEP - MAX_DEPTH + 1)
    answer = client.post(f"/api/integrations/{integration}/store", headers=member.headers,
                         json={"op": "get", "id": "r1"})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]


def test_numbers_no_request_could_hold_are_read_back_as_text(client, session, member,
                                                             integration):
    huge = "9" * 5000  # PostgreSQL holds it; Python reads at most 4,300 digits
    write_raw(session, "integrations", "data", '{"huge": ' + huge + ', "small": 12.5}',
              id=integration)
    answer = client.get(f"/api/integrations/{integration}", headers=member.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    assert answer.get_json()["data"] == {"huge": huge, "small": 12.5}


def test_the_deepest_value_a_request_may_hold_is_read_back_intact(client, session, member,
                                                                  integration):
    # The body is level 1, "data" level 2: its deepest array is at level MAX_DEPTH.
    value = json.loads(nested(MAX_DEPTH - 2))
    answer = client.put(f"/api/integrations/{integration}", headers=member.headers,
                        json={"data": {"deep": value}})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    read = client.get(f"/api/integrations/{integration}", headers=member.headers).get_json()
    assert read["data"] == {"deep": value}


# -- a database integration's answer --------------------------------------------------------------

@pytest.mark.parametrize("target", ["postgresql"], indirect=True)
def test_a_deep_json_value_in_a_query_answer_is_refused_not_a_500(hub, make_db, target, admin):
    """The driver's own JSON loader overflowed the stack (a 500). A query answer keeps the
    shape the database gave or says why it cannot: too deep is 422, below it is as it was
    (docs/decisions.md, "Values")."""
    integration = make_db(target)
    answer = query(hub, admin, integration,
                   f"SELECT CAST(repeat('[', {DEEP}) || repeat(']', {DEEP}) AS jsonb) AS j")
    assert answer.status_code == 422, answer.get_data(as_text=True)[:500]
    assert answer.get_json()["code"] == "query_value_too_deep"
    within = query(hub, admin, integration,
                   "SELECT CAST(repeat('[', 200) || repeat(']', 200) AS jsonb) AS j, "
                   "CAST('[[1]]' AS json) AS k")
    assert within.status_code == 200, within.get_data(as_text=True)[:500]
    j, k = within.get_json()["rows"][0]
    assert json.dumps(j, separators=(",", ":")) == nested(200) and k == [[1]]
