"""Inputs at the edges that once reached the database or the transport as 500s: NUL
characters, offsets past the databases' integers, share levels past 3, envelope header
names that cannot be sent; and the raw proxy keeping the upstream's media type."""

from __future__ import annotations

import pytest

from tests.support.problems import assert_problem


@pytest.mark.parametrize("path", ["/api/users/a%00b", "/api/integrations/x%00y", "/api/tags/%00"])
def test_a_nul_in_a_path_names_nothing(client, admin, path):
    assert_problem(client.get(path, headers=admin.headers), 404, "not_found")


@pytest.mark.parametrize("path", ["/api/users?q=a%00b", "/api/integrations?type=%00",
                                  "/api/audit?actor=x%00"])
def test_a_nul_in_a_query_is_invalid(client, admin, path):
    problem = assert_problem(client.get(path, headers=admin.headers), 422, "validation_failed")
    assert "NUL" in problem["detail"]


@pytest.mark.parametrize("method, path, body", [
    ("post", "/api/tags", {"name": "a\u0000b"}),
    ("post", "/api/login", {"username": "a\u0000b", "password": "x"}),
    ("post", "/api/webhooks", {"url": "https://x.example/h", "events": ["*"],
                               "description": "\u0000"}),
    ("post", "/api/teams", {"id": "ops", "name": "Ops", "members": [{"username": "x\u0000"}]}),
])
def test_a_nul_in_a_json_body_is_invalid_and_nothing_is_stored(client, admin, method, path, body):
    answer = getattr(client, method)(path, headers=admin.headers, json=body)
    problem = assert_problem(answer, 422, "validation_failed")
    assert list(problem["errors"].values()) == [["NUL characters are not accepted"]]


def test_a_nul_in_a_form_is_invalid(client):
    answer = client.post("/login", data={"username": "a\x00", "password": "x"})
    assert_problem(answer, 422, "validation_failed")


def test_the_proxy_still_carries_a_nul_to_the_upstream(client, member, make_integration, upstream):
    integration = make_integration(type="custom", auth_type="none", api_base_uri=f"{upstream.url}/v1",
                                   shares={"mia": 1})
    answer = client.post(f"/api/integrations/{integration}/request", headers=member.headers,
                         json={"url": "items", "data": {"text": "a\u0000b"}})
    assert answer.status_code == 200
    assert upstream.requests()[0].body == b'{"text": "a\\u0000b"}'


@pytest.mark.parametrize("path", ["/api/users?start=9223372036854775808",
                                  "/api/integrations?start=2147483648", "/api/audit?start=99999999999"])
def test_offsets_past_the_databases_integers_are_invalid(client, admin, path):
    assert_problem(client.get(path, headers=admin.headers), 422, "validation_failed")


def test_store_offsets_are_bounded_too(client, admin, make_integration):
    integration = make_integration()
    answer = client.post(f"/api/integrations/{integration}/store", headers=admin.headers,
                         json={"op": "list", "model": "m", "offset": 2**63})
    assert_problem(answer, 422, "validation_failed")


@pytest.mark.parametrize("level", [0, 4, 2**31])
def test_share_levels_are_1_to_3(client, admin, member, make_integration, level):
    integration = make_integration()
    answer = client.put(f"/api/integrations/{integration}/shares/mia", headers=admin.headers,
                        json={"accessLevel": level})
    assert_problem(answer, 422, "validation_failed")


@pytest.mark.parametrize("name", ["é", "", "a:b", " x", "x\n", "a b", "a\u0000b"])
def test_envelope_header_names_must_be_tokens(client, member, make_integration, upstream, name):
    integration = make_integration(type="custom", auth_type="none", api_base_uri=f"{upstream.url}/v1",
                                   shares={"mia": 1})
    answer = client.post(f"/api/integrations/{integration}/request", headers=member.headers,
                         json={"url": "items", "headers": {name: "v"}})
    assert_problem(answer, 422, "validation_failed")
    assert upstream.requests() == []


def test_the_raw_proxy_keeps_the_upstreams_json_media_type(client, member, make_integration,
                                                           upstream):
    integration = make_integration(type="custom", auth_type="none", api_base_uri=f"{upstream.url}/v1",
                                   shares={"mia": 1})
    upstream.respond("/v1/hello", {"json": {"hello": "world"}})
    answer = client.get(f"/api/integrations/{integration}/request/hello", headers=member.headers)
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
