"""The request proxy's hot path (api/proxy/hot_path.py): a call this process has seen
before is answered without reading the hub's database, exactly as the views answer it, and
stops the moment a grant it was made under changes (docs/decisions.md, "Performance")."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from integration_hub import metrics
from integration_hub.db.models import ApiToken, User
from integration_hub.db.types import utcnow
from tests import factories
from tests.support.prometheus import sample

IGNORED = {"date", "x-request-id"}  # differ between any two answers


@contextlib.contextmanager
def statements(app):
    """The SQL statements the hub runs on its database meanwhile."""
    engine = app.extensions["integration_hub.db"].kw["bind"]
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def mias_token(session) -> ApiToken:
    return session.scalar(select(ApiToken).join(ApiToken.user).where(User.username == "mia"))


def warm(client, url: str, headers: dict[str, str]) -> None:
    """Two calls: the first may come before this process listens for changes (PostgreSQL),
    when nothing is kept; the second is answered by the views, which keep its plan."""
    for _ in range(2):
        assert client.get(url, headers=headers).status_code == 200


def by_views_then_hot_path(app, client, url: str, headers: dict[str, str]):
    """The same call twice: by the views (a browser's call, with an Origin the hub does not
    allow, is always theirs), then by the hot path; with the statements the second ran."""
    by_views = client.get(url, headers={**headers, "X-Request-ID": "call-1",
                                        "Origin": "https://elsewhere.example"})
    with statements(app) as seen:
        by_hot_path = client.get(url, headers={**headers, "X-Request-ID": "call-2"})
    return by_views, by_hot_path, seen


def answer_of(response) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, every header (repeated ones too, in no particular order) and body."""
    headers = sorted((name.lower(), value) for name, value in response.headers.items()
                     if name.lower() not in IGNORED)
    return response.status_code, headers, response.get_data()


def test_a_call_seen_before_reads_nothing_from_the_database(app, client, member, upstream,
                                                            keyed):
    integration = keyed()
    url = f"/api/integrations/{integration}/request/items/1?q=2"

    with statements(app) as first:
        warm(client, url, member.headers)
    with statements(app) as second:
        answer = client.get(url, headers=member.headers)

    assert answer.status_code == 200
    assert first, "the first call is answered by the views, from the database"
    assert second == []
    received = upstream.requests()[-1]
    assert received.path == "/v1/items/1" and received.query == "q=2"
    assert received.header("X-Api-Key") == "integration-key-123"


@pytest.mark.parametrize("behaviour", [
    {"json": {"a": 1}, "headers": [("Vary", "Accept-Encoding"), ("X-Upstream", "yes")]},
    {"body": "<script>alert(1)</script>", "headers": [("Content-Type", "text/html")]},
    {"body": b"\x00\x01", "headers": [("Content-Type", "application/octet-stream"),
                                      ("Set-Cookie", "s=1"), ("X-Request-ID", "theirs")]},
    {"status": 404, "json": {"error": "nope"}},
    {"status": 201, "body": "made", "chunked": True},
    {"json": {"a": 1}, "headers": [("Vary", "origin, Accept"), ("Vary", "Cookie")]},
    {"body": "<p>framed</p>", "headers": [("Content-Type", "text/html; charset=utf-8"),
                                          ("X-Frame-Options", "SAMEORIGIN")]},
    {"status": 204, "body": b""},
    {"status": 303, "redirect": "/v1/elsewhere"},
    {"body": "", "headers": [("Content-Location", "/v1/ünïcode")]},
    {"status": 299, "body": "odd"},
], ids=["json-vary", "html", "binary-cookie", "404", "chunked", "vary-origin", "html-framed",
        "204", "redirect", "content-location", "unknown-status"])
def test_the_hot_path_answers_exactly_as_the_views(app, client, member, upstream, keyed,
                                                   behaviour):
    integration = keyed()
    base = f"/api/integrations/{integration}/request"
    warm(client, f"{base}/warm", member.headers)
    upstream.respond("/v1/thing", behaviour, sticky=True)

    by_views, by_hot_path, seen = by_views_then_hot_path(app, client, f"{base}/thing",
                                                         member.headers)

    assert seen == []

    assert answer_of(by_hot_path) == answer_of(by_views)
    assert by_hot_path.status == by_views.status
    assert by_views.headers["X-Request-ID"] == "call-1"
    assert by_hot_path.headers["X-Request-ID"] == "call-2"
    assert by_hot_path.headers["Content-Security-Policy"].startswith("sandbox")


def test_hot_path_calls_are_logged_and_counted(app, client, member, admin, upstream, keyed,
                                               caplog):
    integration = keyed()
    url = f"/api/integrations/{integration}/request/logged"
    warm(client, url, member.headers)
    counted = requests_counted()
    with caplog.at_level("INFO", logger="integration_hub.requests"), \
            statements(app) as seen:
        answer = client.get(url, headers={**member.headers, "X-Request-ID": "hot-1"})

    assert answer.status_code == 200 and seen == []
    line = next(r for r in caplog.records if getattr(r, "request_id", None) == "hot-1")
    assert (line.method, line.status, line.path) == ("GET", 200, url)
    assert requests_counted() == counted + 1
    logged = client.get(f"/api/integrations/{integration}/requests", headers=admin.headers)
    calls = logged.get_json()["_embedded"]["inf:proxy-request"]
    assert [c["path"] for c in calls] == ["/v1/logged"] * 3


def requests_counted() -> float:
    """Proxied GETs answered 200, as a metrics scrape counts them."""
    return sample(metrics.exposition(lambda: (0, 0)).decode(), "hub_http_requests_total",
                  route="/api/integrations/<integration_id>/request/<path:target>",
                  method="GET", status="200")


@pytest.mark.parametrize("failure", [
    {"close": True},  # the upstream hangs up: 502
    {"redirect": "http://elsewhere.invalid/x"},  # a redirect off the base URL: refused
], ids=["upstream-gone", "redirect-away"])
def test_a_failure_after_the_call_was_taken_is_answered_as_the_views_answer_it(
        app, client, member, upstream, keyed, failure):
    integration = keyed()
    base = f"/api/integrations/{integration}/request"
    warm(client, f"{base}/ok", member.headers)  # its token and plan are now kept
    upstream.respond("/v1/down", failure, sticky=True)

    by_views, by_hot_path, seen = by_views_then_hot_path(app, client, f"{base}/down",
                                                         member.headers)

    assert seen == []
    assert by_hot_path.status_code >= 400
    assert by_hot_path.headers["Content-Type"] == "application/problem+json"
    assert by_hot_path.headers["Content-Security-Policy"].startswith("sandbox")
    assert by_hot_path.headers["X-Request-ID"] == "call-2"
    assert answer_of(by_hot_path) == answer_of(by_views)


@pytest.mark.parametrize("change", ["revoke token", "remove share", "disable user",
                                    "delete connection", "change key"])
def test_a_change_takes_effect_on_the_next_call(client, member, admin, upstream, keyed,
                                                change):
    integration = keyed(api_key=None)
    connected = client.post(f"/api/integrations/{integration}/connect", headers=member.headers,
                            json={"apiKey": "mias-first-key"})
    assert connected.status_code in (200, 201), connected.get_data(as_text=True)
    url = f"/api/integrations/{integration}/request/echo"
    warm(client, url, member.headers)
    assert client.get(url, headers=member.headers).status_code == 200

    if change == "revoke token":
        tokens = client.get("/api/tokens", headers=member.headers).get_json()
        token_id = tokens["_embedded"]["inf:token"][0]["id"]
        done = client.delete(f"/api/tokens/{token_id}", headers=admin.headers)
    elif change == "remove share":
        done = client.delete(f"/api/integrations/{integration}/shares/mia", headers=admin.headers)
    elif change == "disable user":
        done = client.put("/api/users/mia", headers=admin.headers, json={"enabled": False})
    elif change == "delete connection":
        done = client.delete(f"/api/integrations/{integration}/connection",
                             headers=member.headers)
    else:
        done = client.post(f"/api/integrations/{integration}/connect", headers=member.headers,
                           json={"apiKey": "mias-second-key"})
    assert done.status_code < 300, done.get_data(as_text=True)

    answer = client.get(url, headers=member.headers)
    if change == "change key":
        assert answer.status_code == 200
        assert upstream.requests()[-1].header("X-Api-Key") == "mias-second-key"
    else:
        assert answer.status_code in (401, 403, 404, 409), answer.get_data(as_text=True)


def test_an_expired_token_is_refused_although_it_was_kept(client, member, upstream, keyed,
                                                          session):
    integration = keyed()
    mia = mias_token(session).user
    soon = factories.token(session, mia, expires_at=utcnow() + timedelta(seconds=2))
    session.commit()
    headers = {"Authorization": f"Bearer {soon}"}
    url = f"/api/integrations/{integration}/request/echo"
    warm(client, url, headers)
    assert client.get(url, headers=headers).status_code == 200
    time.sleep(2.1)

    answer = client.get(url, headers=headers)

    assert answer.status_code == 401
    assert answer.get_json()["code"] == "invalid_token"


def test_the_hot_path_notes_when_a_token_was_last_used(app, client, member, upstream, keyed,
                                                       session, monkeypatch):
    monkeypatch.setitem(app.config, "HUB_SETTINGS", dataclasses.replace(
        app.config["HUB_SETTINGS"], token_last_used_resolution=1))
    integration = keyed()
    url = f"/api/integrations/{integration}/request/echo"
    warm(client, url, member.headers)  # the views touch it
    token = mias_token(session)
    touched = token.last_used_at
    time.sleep(1.1)

    with statements(app) as seen:
        assert client.get(url, headers=member.headers).status_code == 200
    app.extensions["integration_hub.request_log"].flush()

    assert seen == [], "the hot path answered; the touch waits for the request log's writer"
    session.rollback()  # a new snapshot (SQLite keeps one per read transaction)
    assert session.get(ApiToken, token.id).last_used_at > touched
