"""Operations endpoints and request ids: liveness, readiness against the real database,
Prometheus metrics behind their token, and X-Request-ID echoed and logged."""

from __future__ import annotations

import json
import logging
import re

import pytest

from integration_hub import create_app
from integration_hub.db import migrations
from integration_hub.edge import logs
from integration_hub.queue import job_queue
from tests.conftest import make_settings
from tests.support.problems import assert_problem
from tests.support.prometheus import sample

METRICS_TOKEN = "metrics-token-for-tests-7781"


@pytest.fixture
def measured(migrated_app, tmp_path):
    """A second hub on the same database with metrics switched on."""
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url, tmp_path,
                             HUB_METRICS_TOKEN=METRICS_TOKEN)
    return create_app(settings)


def scrape(client) -> str:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    return answer.get_data(as_text=True)


def test_healthz_answers_without_credentials(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_migration(client, migrated_app):
    answer = client.get("/readyz")
    assert answer.status_code == 200
    heads = migrations.heads(migrated_app.config["HUB_SETTINGS"].database_url)
    assert answer.get_json() == {"status": "ready", "migration": heads}


def test_readyz_refuses_a_schema_behind_the_latest_migration(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrations.upgrade(url, "0007")
    behind = create_app(make_settings(url, tmp_path)).test_client()

    problem = assert_problem(behind.get("/readyz"), 503, "not_ready")
    assert "db upgrade" in problem["detail"]
    assert problem["current"] == ["0007"]


def test_readyz_refuses_an_unreachable_database_without_naming_it(tmp_path):
    url = "postgresql://hub:database-password-4411@127.0.0.1:1/hub"
    down = create_app(make_settings(url, tmp_path)).test_client()

    answer = down.get("/readyz")
    problem = assert_problem(answer, 503, "not_ready")
    assert problem["detail"] == "the database is not reachable"
    assert "database-password-4411" not in answer.get_data(as_text=True)


def test_metrics_are_off_without_a_token_and_need_it(client, measured):
    assert_problem(client.get("/metrics"), 404, "not_found")
    scraper = measured.test_client()
    assert_problem(scraper.get("/metrics"), 401, "authentication_required")
    assert_problem(scraper.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401,
                   "authentication_required")


def test_metrics_count_requests_by_route_and_status(measured, admin):
    client = measured.test_client()
    before = scrape(client)
    for _ in range(3):
        client.get("/api/integrations", headers=admin.headers)
    client.get("/api/integrations/no-such-one", headers=admin.headers)
    after = scrape(client)

    def delta(**labels):
        return (sample(after, "hub_http_requests_total", **labels)
                - sample(before, "hub_http_requests_total", **labels))

    assert delta(route="/api/integrations", method="GET", status="200") == 3
    assert delta(route="/api/integrations/<integration_id>", method="GET", status="404") == 1
    assert sample(after, "hub_http_request_duration_seconds_count", route="/api/integrations",
                  method="GET") >= 3


def test_metrics_time_upstream_calls_and_count_token_refreshes(measured, make_integration, member,
                                                               upstream, oauth_server,
                                                               oauth_integration):
    client = measured.test_client()
    keyed = make_integration(type="custom", auth_type="apikey", mode="shared", api_key="metrics-key-1",
                             api_base_uri=f"{upstream.url}/v1", shares={"mia": 1})
    oauth = oauth_integration(shares={"mia": 1})
    before = scrape(client)

    assert client.post(f"/api/integrations/{keyed}/request", headers=member.headers,
                       json={"url": "items"}).status_code == 200
    client.post(f"/api/integrations/{oauth}/connect", headers=member.headers, json={
        "accessToken": "expired-access-token", "refreshToken": "refresh-token-3", "expiresIn": 0})
    assert client.get(f"/api/integrations/{oauth}/account?refresh=true",
                      headers=member.headers).status_code == 200
    after = scrape(client)

    def delta(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("hub_proxy_upstream_seconds_count", outcome="2xx") == 1
    assert delta("hub_token_refreshes_total", outcome="succeeded") == 1


def test_metrics_report_the_queue_depth(measured, make_integration, member, upstream):
    client = measured.test_client()
    integration = make_integration(
        type="custom", auth_type="apikey", mode="shared", api_key="queue-key-1",
        api_base_uri=f"{upstream.url}/v1", shares={"mia": 2},
        data={"sync": {"model": "m", "path": "/items", "itemsPath": "data"}})
    try:
        assert client.post(f"/api/integrations/{integration}/sync",
                           headers=member.headers).status_code == 202
        assert sample(scrape(client), "hub_queue_tasks", state="pending") == 1
    finally:
        job_queue(measured).huey.flush()


@pytest.mark.parametrize("given, echoed", [
    ("req-7f3a9c", True),
    ("01J9ZC8Q6W5T1V2X3Y4Z5A6B7C", True),
    ("has spaces in it", False),
    ("x" * 129, False),
    ("line\nbreak", False),
])
def test_request_ids_are_echoed_when_sane_and_made_otherwise(client, given, echoed):
    answer = client.get("/healthz", headers={"X-Request-ID": given} if "\n" not in given else {})
    if "\n" in given:  # cannot even be sent as a header: a new id
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"])
        return
    assert (answer.headers["X-Request-ID"] == given) is echoed
    if not echoed:
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"])


def test_log_lines_are_json_with_the_request_id(client, admin, caplog):
    formatter = logs.JsonFormatter()
    with caplog.at_level(logging.INFO, logger="integration_hub.requests"):
        answer = client.get("/api/integrations?secretish=value-9", headers={
            **admin.headers, "X-Request-ID": "trace-42"})
    assert answer.headers["X-Request-ID"] == "trace-42"
    record = next(r for r in caplog.records if r.name == "integration_hub.requests")
    line = json.loads(formatter.format(record))

    assert line["request_id"] == "trace-42"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/integrations", 200)
    assert line["level"] == "INFO" and isinstance(line["duration_ms"], int)
    assert "value-9" not in json.dumps(line)


def test_a_path_cannot_forge_log_lines(client, admin, caplog):
    with caplog.at_level(logging.INFO, logger="integration_hub.requests"):
        client.get("/api/x%0D%0AERROR forged line", headers=admin.headers)
    record = next(r for r in caplog.records if r.name == "integration_hub.requests")
    assert "\n" not in record.getMessage() and "\r" not in record.getMessage()
    assert record.path == "/api/x\\r\\nERROR forged line"
