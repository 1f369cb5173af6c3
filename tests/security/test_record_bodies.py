"""Hostile bodies and names for the records API (docs/security.md, "Records through the
API"): each is refused with a problem and a stable code, or stored exactly as sent; none
reaches a 500, and a refused request stores nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from integration_hub.config import current_settings
from integration_hub.db.models import Record
from tests.support.problems import assert_problem


@pytest.fixture
def target(make_integration) -> str:
    integration = make_integration("Hostile records", type="custom", auth_type="none",
                                   shares={"walt": 2})
    return f"/api/integrations/{integration}/records"


@pytest.fixture
def writer(make_caller):
    return make_caller("walt")


def count(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Record))


RAW_BODIES = [  # (body bytes, status, code)
    (b'{"id": "a", "s": "\\ud800"}', 400, "malformed_body"),       # a lone surrogate
    (b'[{"id": "a"}, {"id": "b", "s": "\\udfff x"}]', 400, "malformed_body"),
    (b'{"id": "a", "s": "\\u0000"}', 422, "validation_failed"),    # NUL, refused at the edge
    (b'{"id": "a", "id": "b"}', 400, "malformed_body"),           # a key twice
    (b'{"n": NaN}', 400, "malformed_body"),
    (b'{"n": 1e400}', 400, "malformed_body"),
    (b'[' * 200 + b']' * 200, 400, "body_too_deep"),            # deeper than bodies may be
    (b'null', 422, "record_invalid"),
    (b'"a record"', 422, "record_invalid"),
    (b'42', 422, "record_invalid"),
    (b'[[{"id": "a"}]]', 422, "record_invalid"),
    (b'', 422, "validation_failed"),
]


@pytest.mark.parametrize(("body", "status", "code"), RAW_BODIES)
def test_hostile_bodies_are_refused_and_store_nothing(client, writer, target, session, body,
                                                      status, code):
    answer = client.post(f"{target}/m", headers=writer.headers, data=body,
                         content_type="application/json")

    assert_problem(answer, status, code)
    assert count(session) == 0


@pytest.mark.parametrize("record_id", [
    "", " ", ".", "..", "x" * 257, True, None, 1.5, {"a": 1}, ["a"]])
def test_ids_no_link_can_name_are_refused(client, writer, target, session, record_id):
    answer = client.post(f"{target}/m", headers=writer.headers, json={"id": record_id})

    if record_id == " ":  # a blank id is still an id: it is one encoded segment
        assert answer.status_code == 201
        assert answer.headers["Location"].endswith("/m/%20")
        return
    assert_problem(answer, 422, "record_invalid")
    assert answer.get_json()["fields"]["invalid"] == ["id"]
    assert count(session) == 0


@pytest.mark.parametrize("record_id", [
    "a/../b", "%2e%2e", "a?b#c", "../../../../api/tokens", "<script>", "'; DROP TABLE records;--",
    "é\u2028ü", "a\\b"])
def test_awkward_ids_are_stored_as_sent_and_named_as_one_segment(client, writer, target,
                                                                 record_id):
    created = client.post(f"{target}/m", headers=writer.headers,
                          json={"id": record_id, "v": record_id})

    assert created.status_code == 201, created.get_data(as_text=True)
    location = created.headers["Location"]
    assert location.startswith(f"{target}/m/") and "/" not in location[len(target) + 3:]
    read = client.get(location, headers=writer.headers)
    assert read.status_code == 200 and read.get_json()["id"] == record_id
    assert client.patch(location, headers=writer.headers, json={"w": 1}).status_code == 200
    assert client.delete(location, headers=writer.headers).status_code == 204


MODEL_NAMES = [  # (model, status, code): why each is answered so
    # One segment that reaches ModelRecords: check_model refuses it (MODEL_PATTERN) with a
    # problem naming the model field.
    ("..", 422, "validation_failed"),  # the test client sends dots as they are
    (".", 422, "validation_failed"),  # a model starts with a letter or digit
    ("%2e%2e", 422, "validation_failed"),  # decoded before routing: the model ".."
    ("a b", 422, "validation_failed"),
    ("x" * 65, 422, "validation_failed"),  # 64 characters at most
    ("-lead", 422, "validation_failed"),
    ("é", 422, "validation_failed"),  # ASCII letters only
    # A "/" (or %2F, decoded before routing) makes the rest a record id: the route of one
    # record (<model>/<record_id>, ids may hold "/"), which takes no POST.
    ("a%2Fb", 405, "method_not_allowed"),
    ("a/b/c", 405, "method_not_allowed"),
    ("a//b", 405, "method_not_allowed"),
    # Nothing after the "/": no record id and no model, so no route at all.
    ("a/", 404, "not_found"),
    ("", 404, "not_found"),  # .../records/: the list has no trailing slash
]


@pytest.mark.parametrize(("model", "status", "code"), MODEL_NAMES)
def test_model_names_are_checked_before_anything_is_written(client, writer, target, session,
                                                            model, status, code):
    answer = client.post(f"{target}/{model}", headers=writer.headers, json={"id": "a"})

    problem = assert_problem(answer, status, code)
    if status == 422:
        assert problem["fields"]["invalid"] == ["model"]
    if status == 405:
        assert "POST" not in answer.headers["Allow"] and "GET" in answer.headers["Allow"]
    assert count(session) == 0


def test_a_body_that_is_not_json_is_unsupported(client, writer, target, session):
    answer = client.post(f"{target}/m", headers=writer.headers, data="id=a",
                         content_type="application/x-www-form-urlencoded")

    assert_problem(answer, 415, "unsupported_media_type")
    assert count(session) == 0


def test_a_body_over_the_json_limit_is_refused_before_it_is_read(client, app, writer, target,
                                                                 session):
    with app.app_context():
        limit = current_settings().max_json_body
    body = json.dumps({"id": "big", "blob": "x" * limit})

    answer = client.post(f"{target}/m", headers=writer.headers, data=body,
                         content_type="application/json")

    assert_problem(answer, 413, "payload_too_large")
    assert count(session) == 0


def test_a_merge_patch_cannot_move_a_record_to_another_id_or_model(client, writer, target,
                                                                   session):
    client.post(f"{target}/m", headers=writer.headers, json={"id": "a", "n": 1})

    for patch in ({"id": "b"}, {"id": 5}, {"id": ["a"]}):
        answer = client.patch(f"{target}/m/a", headers=writer.headers, json=patch,
                              content_type="application/merge-patch+json")
        assert_problem(answer, 422, "record_invalid")
    session.expire_all()
    assert [(r.model, r.record_id, r.data) for r in session.scalars(select(Record))] == [
        ("m", "a", {"id": "a", "n": 1})]
