"""Every failure is application/problem+json with a stable code; 500s leak nothing."""

import pytest

from integration_hub import create_app
from tests.conftest import make_settings
from tests.support.problems import assert_problem


@pytest.mark.parametrize("method, path, kwargs, status, code", [
    ("post", "/api/users", {"data": "{not json", "content_type": "application/json"},
     400, "malformed_body"),
    ("post", "/api/users", {"data": "username=x", "content_type": "application/x-www-form-urlencoded"},
     415, "unsupported_media_type"),
    ("post", "/api/users", {"data": "<user/>", "content_type": "application/xml"},
     415, "unsupported_media_type"),
    ("post", "/api/users", {"json": ["not", "an", "object"]}, 422, "validation_failed"),
    ("post", "/api/users", {"json": {"username": "x", "unknown": 1}}, 422, "validation_failed"),
    ("get", "/api/users?limit=501", {}, 422, "validation_failed"),
    ("get", "/api/users?start=-1", {}, 422, "validation_failed"),
    ("get", "/api/users?limit=abc", {}, 422, "validation_failed"),
    ("get", "/api/no-such-thing", {}, 404, "not_found"),
    ("get", "/api/users/nobody", {}, 404, "user_not_found"),
    ("get", "/api/teams/team:nobody", {}, 404, "team_not_found"),
    ("get", "/api/tokens/00000000-0000-0000-0000-000000000000", {}, 404, "not_found"),
    ("patch", "/api/me", {}, 405, "method_not_allowed"),
    ("delete", "/api", {}, 405, "method_not_allowed"),
])
def test_error_paths(client, admin, method, path, kwargs, status, code):
    answer = getattr(client, method)(path, headers=admin.headers, **kwargs)
    body = assert_problem(answer, status, code)
    if status == 405:
        assert "GET" in answer.headers["Allow"]
    if code == "validation_failed":
        assert body["errors"]


def test_forbidden_is_403_problem(client, member):
    assert_problem(client.post("/api/users", headers=member.headers, json={"username": "x"}),
                   403, "forbidden")


def test_json_body_limit_is_413(migrated_app, tmp_path, make_caller):
    caller = make_caller("big")
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url, tmp_path,
                             HUB_MAX_JSON_BODY="2048")
    small = create_app(settings).test_client()
    answer = small.post("/api/tokens", headers=caller.headers, json={"name": "x" * 4096})
    assert_problem(answer, 413, "payload_too_large")


def test_unexpected_error_is_a_500_problem_without_details(migrated_app, tmp_path, caplog):
    app = create_app(make_settings(migrated_app.config["HUB_SETTINGS"].database_url, tmp_path))

    @app.get("/boom")
    def boom():
        raise RuntimeError("password=hunter2 SELECT * FROM users")

    answer = app.test_client().get("/boom")

    body = assert_problem(answer, 500, "internal_error")
    text = answer.get_data(as_text=True)
    assert "hunter2" not in text and "SELECT" not in text and "Traceback" not in text
    assert "RuntimeError" in caplog.text  # the operator still sees it in the log
    assert body["detail"]


def test_a_missing_field_is_called_missing(client, admin):
    answer = client.post("/api/webhooks", headers=admin.headers, json={"events": ["*"]})
    body = assert_problem(answer, 422, "validation_failed")
    assert body["detail"] == "missing required field: url"
    assert body["fields"] == {"missing": ["url"], "unknown": [], "invalid": []}
    assert set(body["errors"]) == {"url"}


def test_missing_unknown_and_invalid_fields_are_told_apart(client, admin):
    answer = client.post("/api/webhooks", headers=admin.headers,
                         json={"events": "not-a-list", "colour": "red", "shade": 1})
    body = assert_problem(answer, 422, "validation_failed")
    assert body["detail"] == ("missing required field: url; unknown fields: colour, shade; "
                              "invalid field: events")
    assert body["fields"] == {"missing": ["url"], "unknown": ["colour", "shade"],
                              "invalid": ["events"]}


def test_fields_a_service_finds_missing_are_called_missing(client, admin):
    answer = client.post("/api/integrations", headers=admin.headers, json={"authType": "none"})
    body = assert_problem(answer, 422, "validation_failed")
    assert body["fields"] == {"missing": ["name", "type"], "unknown": [], "invalid": []}


def test_a_body_that_is_no_object_names_no_field(client, admin):
    answer = client.post("/api/webhooks", headers=admin.headers, json=["url"])
    body = assert_problem(answer, 422, "validation_failed")
    assert "_schema" not in body["detail"] and "field" not in body["detail"]
    assert body["fields"] == {"missing": [], "unknown": [], "invalid": []}
