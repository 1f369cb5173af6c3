"""Hostile request bodies get a problem (400, 413 or 422), never a 500: deep nesting is
refused before anything recursive reads it, and JSON that the hub's databases and
parsers cannot hold is refused as malformed, before sign-in and after it alike."""

from __future__ import annotations

import json

import pytest

from integration_hub.json_body import MAX_DEPTH, deeper_than
from tests.support.problems import assert_problem

HAL_FORMS = "application/prs.hal-forms+json"
DEEP = 50_000


def _login(password: str) -> bytes:
    return b'{"username": "nobody", "password": ' + password.encode() + b"}"


# (name, body, status, code): what every JSON endpoint answers to it
HOSTILE = [
    ("deep arrays", b"[" * DEEP, 400, "body_too_deep"),
    ("deep arrays closed", b"[" * DEEP + b"]" * DEEP, 400, "body_too_deep"),
    ("deep objects", b'{"a":' * DEEP + b"1" + b"}" * DEEP, 400, "body_too_deep"),
    ("deep mixed", b'[{"a":' * (DEEP // 2), 400, "body_too_deep"),
    ("deep inside a field", _login("[" * MAX_DEPTH + "]" * MAX_DEPTH), 400,
     "body_too_deep"),
    ("deep after a string with brackets",
     b'{"username": "[[[\\"{{{", "password": ' + b"[" * DEEP + b"}", 400, "body_too_deep"),
    ("brackets in an unterminated string", b'"' + b'\\"[' * 20_000, 400, "malformed_body"),
    ("huge exponent", _login("1e999999"), 400, "malformed_body"),
    ("huge negative exponent is just zero", _login("1e-999999"), 422, "validation_failed"),
    ("huge integer", _login("1" + "0" * 5000), 400, "malformed_body"),
    ("integer beyond a double", _login("1" + "0" * 400), 400, "malformed_body"),
    ("NaN", _login("NaN"), 400, "malformed_body"),
    ("Infinity", _login("Infinity"), 400, "malformed_body"),
    ("-Infinity", _login("-Infinity"), 400, "malformed_body"),
    ("invalid UTF-8", b'{"username": "\xff\xfe", "password": "x"}', 400, "malformed_body"),
    ("UTF-8 encoded surrogate", b'{"username": "\xed\xa0\x80", "password": "x"}', 400,
     "malformed_body"),
    ("lone high surrogate", _login('"\\ud800"'), 400, "malformed_body"),
    ("lone low surrogate", b'{"username\\udc00": "a", "password": "x"}', 400,
     "malformed_body"),
    ("duplicate keys", b'{"username": "a", "username": "b", "password": "x"}', 400,
     "malformed_body"),
    ("NUL in a string", _login('"a\\u0000b"'), 422, "validation_failed"),
    ("top-level array", b"[]", 422, "validation_failed"),
    ("top-level null", b"null", 422, "validation_failed"),
    ("top-level string", b'"x"', 422, "validation_failed"),
    ("truncated", b'{"username": "a", "pass', 400, "malformed_body"),
    ("byte order mark", b'\xef\xbb\xbf{"username": "a", "password": "x"}', 400,
     "malformed_body"),
]
ALLOWED = [
    # brackets, quotes and escapes inside strings are text, not nesting
    ("brackets in a string", _login(json.dumps("[" * 1000 + '\\"{' * 5)), 401,
     "invalid_credentials"),
    ("an escaped surrogate pair", _login('"\\ud83d\\ude00 and \\\\ud800"'), 401,
     "invalid_credentials"),
    ("the deepest allowed", _login("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)), 422,
     "validation_failed"),
]


def _post(client, path, body, headers=None):
    return client.post(path, data=body, content_type="application/json", headers=headers or {})


@pytest.mark.parametrize("name, body, status, code", HOSTILE + ALLOWED,
                         ids=[row[0] for row in HOSTILE + ALLOWED])
def test_hostile_bodies_before_sign_in(client, name, body, status, code):
    assert_problem(_post(client, "/api/login", body), status, code)


@pytest.fixture
def targets(make_integration, admin, member, upstream):
    integration = make_integration(
        "Upstream", type="custom", auth_type="apikey", mode="per-user",
        api_base_uri=f"{upstream.url}/v1", api_key="integration-key-123",
        api_key_name="X-Api-Key", shares={"mia": 1})
    return [("post", "/api/tokens", member), ("put", "/api/users/mia", admin),
            ("post", "/api/integrations", admin), ("post", "/api/webhooks", admin),
            ("put", "/api/tenant", admin), ("post", f"/api/integrations/{integration}/request",
                                            member),
            ("post", f"/api/integrations/{integration}/store", member)]


@pytest.mark.parametrize("accept", ["application/hal+json", HAL_FORMS])
def test_hostile_bodies_after_sign_in(client, targets, accept):
    for method, path, caller in targets:
        for name, body, status, code in HOSTILE:
            if status == 422:  # what is valid depends on the endpoint; never a 500 though
                answer = getattr(client, method)(path, data=body, content_type="application/json",
                                                 headers={**caller.headers, "Accept": accept})
                assert 400 <= answer.status_code < 500, (method, path, name, answer.status_code)
                continue
            answer = getattr(client, method)(path, data=body, content_type="application/json",
                                             headers={**caller.headers, "Accept": accept})
            assert answer.status_code == status, (method, path, name, answer.get_data()[:300])
            assert answer.get_json()["code"] == code, (method, path, name)


def test_a_deep_upstream_answer_reaches_the_envelope_as_text(client, member, upstream, targets):
    integration_request = next(path for _, path, _ in targets if path.endswith("/request"))
    deep = "[" * DEEP + "]" * DEEP
    upstream.respond("/v1/deep", {"body": deep, "headers": {"Content-Type": "application/json"}})

    answer = client.post(integration_request, headers=member.headers,
                         json={"url": "deep", "envelope": True})

    assert answer.status_code == 200, answer.get_data()[:300]
    assert answer.get_json()["data"] == deep


@pytest.mark.parametrize("document, deeper", [
    (b"", False), (b"[]", False), (b"[[]]", False), (b"[" * 100, False), (b"[" * 101, True),
    (b"[]" * 500, False), (b"{}" * 500, False), (b'{"a": [' * 50 + b"]}" * 50, False),
    (b'{"a": [' * 51, True), (b'"' + b"[" * 500 + b'"', False),
    (b'"\\"' + b"[" * 500 + b'"', False), (b'"\\\\"' + b"[" * 500, True),
    (b'"' + b"[" * 500, False), (b'"\\', False), (b"]" * 500 + b"[" * 100, False),
    ("[" * 101, True), ("\ud800" + "[" * 101, True),
])
def test_nesting_is_measured_outside_strings(document, deeper):
    assert deeper_than(document, 100) is deeper
