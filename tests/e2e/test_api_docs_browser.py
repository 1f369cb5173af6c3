"""The API docs page in a real browser, used the way a person tries an API there: open
/api/docs, Authorize with a hub API token, expand ``GET /api``, Try it out, Execute, and read
the HAL answer in the response panel (docs/decisions.md, "The API docs page").

Headless Chromium against the hub served over HTTP. The page must work offline (every request
goes to the hub itself) and under the hub's Content-Security-Policy (no violation reported).
A browser that is also signed in (session cookie) still calls with the token: a write made from
the page with a token needs no CSRF header. Under a path prefix (the documented deployment serves
the hub at /hub/), Try it out calls the hub's addresses under that prefix.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from tests import factories

USERNAME = "ada"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def ada_token(session) -> str:
    """A tenant administrator who can also sign in at /login, and an API token of hers."""
    ada = factories.user(session, USERNAME, password=PASSWORD, superuser=True)
    plain = factories.token(session, ada, "docs page")
    session.commit()
    return plain


@pytest.fixture
def watched(page, live_hub):
    """The page, with what happened on it collected as it happens: console errors (CSP
    violations among them), any request that left the hub, and every request."""
    seen = {"errors": [], "elsewhere": [], "calls": []}
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["elsewhere"].append(r.url)
            if not r.url.startswith(f"{live_hub}/") else None)
    page.on("request", lambda r: seen["calls"].append((r.method, r.url, r.headers)))
    return page, seen


def authorize(page, token: str) -> None:
    """The page's Authorize dialog, bearerAuth section: paste the token, Authorize, Close."""
    page.locator(".scheme-container button.authorize").click()
    dialog = page.locator(".dialog-ux .modal-ux")
    bearer = dialog.locator(".auth-container", has_text="bearerAuth")
    bearer.locator("input").fill(token)
    bearer.locator("button.authorize").click()
    expect(bearer.get_by_text("Authorized", exact=True)).to_be_visible()
    bearer.locator("button.btn-done").click()
    expect(dialog).to_have_count(0)


def operation(page, method: str, path: str):
    return page.locator(f".opblock.opblock-{method}").filter(
        has=page.locator(f".opblock-summary-path[data-path='{path}']"))


def try_it_out(page, method: str, path: str):
    """Expand the operation, press Try it out; answers the operation's block."""
    block = operation(page, method, path)
    block.locator(".opblock-summary-control").click()
    block.get_by_role("button", name="Try it out").click()
    return block


def execute(block) -> tuple[str, str, str]:
    """Press Execute; answers the status, body and headers the response panel shows."""
    block.get_by_role("button", name="Execute").click()
    live = block.locator(".live-responses-table tr.response")
    expect(live.locator(".response-col_status")).to_have_text(re.compile(r"\d{3}"))
    status = live.locator(".response-col_status").inner_text().strip()
    body = live.locator(".highlight-code pre").first.inner_text()
    headers = live.locator(".response-col_description").inner_text()
    return status, body, headers


def test_try_get_api_with_a_token(watched, live_hub, ada_token, tmp_path):
    page, seen = watched
    page.goto(f"{live_hub}/api/docs")
    expect(operation(page, "get", "/api")).to_be_visible()
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
    assert page.locator(".opblock").count() > 20  # the whole API is listed, not a part of it
    page.screenshot(path=str(tmp_path / "api-docs.png"))

    authorize(page, ada_token)
    block = try_it_out(page, "get", "/api")
    status, body, headers = execute(block)
    block.screenshot(path=str(tmp_path / "get-api-executed.png"))

    assert status == "200", body
    answer = json.loads(body)
    assert answer["_links"]["self"]["href"].endswith("/api")
    assert "inf:webhooks" in answer["_links"]  # an administrator's entry point: ada's token
    assert "application/hal+json" in headers
    (call,) = [c for c in seen["calls"] if c[0] == "GET" and c[1] == f"{live_hub}/api"]
    assert call[2].get("authorization") == f"Bearer {ada_token}"
    assert seen["elsewhere"] == []
    assert seen["errors"] == []


def test_signed_in_browser_writes_with_the_token(watched, live_hub, ada_token):
    """Signed in (a session cookie) and authorized with a token: a POST from the page goes
    with the token, so the hub asks no CSRF header of it."""
    page, seen = watched
    page.goto(f"{live_hub}/login")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_hub}/")
    assert any(c["name"] == "ihub_session" for c in page.context.cookies())
    seen["errors"].clear()  # the sign-in pages' own (a missing /favicon.ico) are not this test's

    page.goto(f"{live_hub}/api/docs")
    authorize(page, ada_token)
    block = try_it_out(page, "post", "/api/tags")
    block.locator("textarea.body-param__text").fill(json.dumps({"name": "tried"}))
    status, body, _ = execute(block)

    assert status == "201", body
    assert json.loads(body)["name"] == "tried"
    assert seen["elsewhere"] == []
    assert seen["errors"] == []


def test_try_it_out_under_a_path_prefix(page, app, serve_wsgi, ada_token):
    """Mounted at /hub (as nginx does: SCRIPT_NAME /hub, nothing served outside it), the page,
    its files and Try it out all stay under /hub."""
    base = serve_wsgi(DispatcherMiddleware(NotFound(), {"/hub": app}))
    called: list[str] = []
    page.on("request", lambda r: called.append(r.url))
    page.goto(f"{base}/hub/api/docs")
    authorize(page, ada_token)
    status, body, _ = execute(try_it_out(page, "get", "/api"))

    assert status == "200", body
    assert json.loads(body)["_links"]["self"]["href"] == "/hub/api"
    assert f"{base}/hub/api" in called
    assert [url for url in called if not url.startswith(f"{base}/hub/")
            and url != f"{base}/hub/api"] == []
