"""A lineages file is input like a records file (records/lineage.py, docs/security.md
"Uploads: imports and icons"): read whole and checked before anything is stored, bounded in
depth and in pairs, and its ids reach links only as one encoded path segment."""

from __future__ import annotations

import io
import json

import pytest

from integration_hub.records import lineage
from tests.support.problems import assert_problem


@pytest.fixture
def integration(make_integration):
    return make_integration("Warehouse", shares={"mia": 2})


def upload(client, caller, integration, lineages: bytes):
    return client.post(f"/api/integrations/{integration}/import", headers=caller.headers,
                       data={"resources_file": (io.BytesIO(b'{"id": "a"}\n'), "r.jsonl"),
                             "lineages_file": (io.BytesIO(lineages), "l.jsonl")},
                       content_type="multipart/form-data")


def nothing_stored(client, caller, integration) -> bool:
    records = client.get(f"/api/integrations/{integration}/records", headers=caller.headers)
    found = client.get(f"/api/integrations/{integration}/lineage", headers=caller.headers,
                       query_string={"model": "resources", "recordId": "a"}).get_json()
    return records.get_json()["total"] == 0 and found["upstream"] == found["downstream"] == []


@pytest.mark.parametrize("content", [
    b'{"upstream": {"id": {"a": {"b": {"c": 1}}}}, "downstream": "a"}\n',
    b'[' * 5000 + b']' * 5000 + b'\n',
    b'{"upstream": "a\\u0000", "downstream": "b"}\n',
    b'{"upstream": "a", "downstream": "b", "extra": 1}\n',
    b'{"upstream": true, "downstream": "a"}\n',
    b'{"upstream": "' + b"x" * 300 + b'", "downstream": "a"}\n',
    b'\xff\xfe{"upstream": "a"}\n',
    b'{"upstream": "a", "downstream": "b"}\x00\n',
], ids=["deep", "very-deep", "nul-escape", "extra-key", "not-an-id", "long-id", "not-utf8",
        "nul-byte"])
def test_a_hostile_lineage_file_stores_nothing(client, member, integration, content):
    answer = upload(client, member, integration, content)

    assert_problem(answer, 422, "import_invalid")
    assert nothing_stored(client, member, integration)


def test_more_pairs_than_a_file_may_hold_are_refused(client, member, integration):
    content = "".join(json.dumps({"upstream": f"u{n}", "downstream": "a"}) + "\n"
                      for n in range(lineage.MAX_PAIRS + 1)).encode()

    answer = upload(client, member, integration, content)

    problem = assert_problem(answer, 422, "import_invalid")
    assert f"more than {lineage.MAX_PAIRS} pairs" in problem["errors"][-1]["message"]
    assert nothing_stored(client, member, integration)


def test_problems_are_listed_up_to_a_bound_but_the_file_is_read_whole():
    """The list of problems is bounded (the first lines'); the reading is not, so a good pair
    after many bad lines is still found, and too many pairs is listed past that bound."""
    content = b'{"upstream": 1}\n' * 150 + b'{"upstream": "u", "downstream": "a"}\n'

    pairs, problems = lineage.read_pairs(io.BytesIO(content), "resources")

    assert [p.line for p in problems] == list(range(1, lineage.MAX_ERRORS + 1))
    assert pairs == [lineage.Pair(lineage.End("resources", "u"), lineage.End("resources", "a"))]

    too_many = "".join(json.dumps({"upstream": f"u{n}", "downstream": "a"}) + "\n"
                       for n in range(lineage.MAX_PAIRS + 1)).encode()
    pairs, problems = lineage.read_pairs(io.BytesIO(content + too_many), "resources")

    assert len(problems) == lineage.MAX_ERRORS + 1 and problems[-1].line == 0
    assert f"more than {lineage.MAX_PAIRS} pairs" in problems[-1].message


def test_ids_reach_links_as_one_encoded_segment(client, member, integration):
    odd = "../../users?x=1#f"
    upload(client, member, integration, (json.dumps({"upstream": odd, "downstream": "a"})
                                         + "\n").encode())

    found = client.get(f"/api/integrations/{integration}/lineage", headers=member.headers,
                       query_string={"model": "resources", "recordId": "a"}).get_json()

    (link,) = found["_links"]["inf:upstream"]
    assert link["href"] == (f"/api/integrations/{integration}/records/resources/"
                            "..%2F..%2Fusers%3Fx%3D1%23f")
    assert found["upstream"] == [{"model": "resources", "id": odd, "stored": False}]
