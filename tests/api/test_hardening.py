"""Hardening at the edges: CORS only for configured origins, a body limit on every
endpoint, security headers on every HTML page."""

from __future__ import annotations

import io

import pytest

from integration_hub import create_app
from tests.conftest import make_settings
from tests.support.problems import assert_problem

ALLOWED = "https://app.example.com"


@pytest.fixture
def hardened(migrated_app, tmp_path):
    """A second hub on the same database with an allowed origin and the smallest body limit."""
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url, tmp_path,
                             HUB_CORS_ORIGINS=f"{ALLOWED}/, https://other.example.org",
                             HUB_MAX_JSON_BODY="1024")
    return create_app(settings).test_client()


def test_a_preflight_from_an_allowed_origin_is_answered_without_credentials(hardened):
    answer = hardened.options("/api/integrations", headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type, X-Not-Allowed"})

    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert answer.headers["Access-Control-Allow-Headers"] == "authorization, content-type"
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in answer.headers


def test_calls_from_an_allowed_origin_may_read_the_answer(hardened, admin):
    answer = hardened.get("/api/integrations", headers={**admin.headers, "Origin": ALLOWED})

    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "ETag" in answer.headers["Access-Control-Expose-Headers"]
    assert "Origin" in answer.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in answer.headers


@pytest.mark.parametrize("origin", ["https://evil.example.com", "https://app.example.com.evil.io",
                                    "http://app.example.com", "null"])
def test_other_origins_get_no_cors_headers(hardened, client, admin, origin):
    for hub in (hardened, client):  # ... and with no origins configured, nobody does
        answer = hub.get("/api/integrations", headers={**admin.headers, "Origin": origin})
        assert answer.status_code == 200
        assert "Access-Control-Allow-Origin" not in answer.headers
        preflight = hub.options("/api/integrations", headers={
            "Origin": origin, "Access-Control-Request-Method": "DELETE"})
        assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Origin" not in client.get("/api/integrations", headers={
        **admin.headers, "Origin": ALLOWED}).headers


@pytest.mark.parametrize("method, path", [
    ("post", "/api/tags"), ("post", "/api/login"), ("put", "/api/tenant"),
    ("post", "/api/webhooks"), ("post", "/login"), ("post", "/api/integrations/x/connect"),
])
def test_every_endpoint_refuses_a_body_over_the_limit_before_reading_it(hardened, admin, method,
                                                                        path):
    body = b'{"name": "' + b"x" * 2000 + b'"}'
    answer = getattr(hardened, method)(path, data=body, headers={
        **admin.headers, "Content-Type": "application/json"})
    assert_problem(answer, 413, "payload_too_large")


def test_a_body_without_a_length_is_cut_off_at_the_limit(hardened, admin):
    body = b'{"name": "' + b"x" * 4000 + b'"}'
    answer = hardened.post("/api/tags", input_stream=io.BytesIO(body),
                           headers={**admin.headers, "Transfer-Encoding": "chunked"},
                           content_type="application/json",
                           environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True})
    assert answer.status_code == 413
    assert answer.mimetype == "application/problem+json"


def test_bodies_under_the_limit_still_work(hardened, admin):
    answer = hardened.post("/api/tags", json={"name": "small"}, headers=admin.headers)
    assert answer.status_code == 201
    chunked = hardened.post("/api/tags", input_stream=io.BytesIO(b'{"name": "chunked"}'),
                            headers={**admin.headers, "Transfer-Encoding": "chunked"},
                            content_type="application/json",
                            environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True})
    assert chunked.status_code == 201 and chunked.get_json()["name"] == "chunked"


@pytest.mark.parametrize("path", ["/login", "/api/rels/integration", "/oauth2/callback?state=x"])
def test_html_pages_carry_security_headers(client, path):
    answer = client.get(path)
    assert answer.mimetype == "text/html"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Referrer-Policy"] == "same-origin"


def test_the_api_docs_page_is_framed_by_nobody(client):
    answer = client.get("/api/docs")
    assert answer.status_code == 200 and answer.headers["X-Frame-Options"] == "DENY"
