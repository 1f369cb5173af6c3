"""Connecting an OAuth2 integration in a real browser, against the real test authorization server.

Chromium signs in at /login, clicks Connect on the start page, is sent to the provider's
/authorize (which redirects straight back, no login page), and lands on the start page again.
What travelled between hub and provider is then checked from the server's recordings.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import quote

import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect
from sqlalchemy import select

from integration_hub import create_app
from integration_hub.db.models import User
from tests import factories
from tests.conftest import make_settings
from tests.support import browser

USERNAME = "ada"
PASSWORD = "correct horse battery staple"
NAME = "Test Provider"
CLIENT_ID = "hub-client"
CLIENT_SECRET = "hub-client-secret-value"
# A JWT: three base64url parts separated by dots (the test server's access tokens are JWTs).
JWT = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


@pytest.fixture
def ada(session):
    """A user who can sign in at /login."""
    factories.user(session, USERNAME, password=PASSWORD, display_name="Ada")
    session.commit()
    return USERNAME


def sign_in(page, base: str) -> None:
    browser.sign_in(page, base, USERNAME, PASSWORD)


def card(page, name: str = NAME):
    return page.locator("li.card", has_text=name)


def connect(page, base: str, name: str = NAME) -> None:
    """Click Connect on the card; wait until the browser is back on the start page."""
    expect(card(page, name).locator(".state")).to_have_text("Not connected")
    card(page, name).get_by_role("link", name="Connect").click()
    page.wait_for_url(lambda url: url.startswith(f"{base}/?"))


def failed_responses(page) -> list[str]:
    """Collects (live) every answer >= 400 the browser gets in this page's context."""
    failed: list[str] = []
    page.context.on("response", lambda r: failed.append(f"{r.status} {r.url}")
                    if r.status >= 400 else None)
    return failed


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()) \
        .rstrip(b"=").decode("ascii")


def long_jwts(text: str) -> list[str]:
    return [found for found in JWT.findall(text) if len(found) > 100]


def only(recorded: list[dict], what: str) -> dict:
    seen = [f"{r['method']} {r['path']}" for r in recorded]  # not the forms: they hold secrets
    assert len(recorded) == 1, f"expected exactly one {what}, got {len(recorded)}: {seen}"
    return recorded[0]


def test_connect_in_the_browser(page, live_hub, ada, oauth_integration, oauth_server, tmp_path):
    integration_id = oauth_integration(NAME, shares={ada: 1})

    sign_in(page, live_hub)
    connect(page, live_hub)

    assert page.url.startswith(f"{live_hub}/?status=connected")
    expect(page.locator("p.notice")).to_have_text("Connected.")
    expect(card(page).locator(".state")).to_have_text("Connected")
    expect(card(page).get_by_role("button", name="Disconnect")).to_be_visible()
    page.screenshot(path=str(tmp_path / "connected.png"), full_page=True)

    authorize = only(oauth_server.requests("/authorize"), "GET /authorize")
    token = only(oauth_server.requests("/token"), "POST /token")
    assert authorize["method"] == "GET" and token["method"] == "POST"
    query, form = authorize["query"], token["form"]
    assert form is not None, f"the token request is not a form: {token['body']!r}"

    callback = f"{live_hub}/oauth2/callback"
    assert query["redirect_uri"] == callback
    assert form["redirect_uri"] == callback
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["state"]

    assert query["code_challenge_method"] == "S256"
    assert form["grant_type"] == "authorization_code"
    assert form["code"]
    assert 43 <= len(form["code_verifier"]) <= 128
    assert s256(form["code_verifier"]) == query["code_challenge"]

    # basicTokenAuth is false by default: the client authenticates in the form.
    assert form["client_id"] == CLIENT_ID
    assert form["client_secret"] == CLIENT_SECRET
    assert "authorization" not in {k.lower() for k in token["headers"]}

    # The hub read the account with the token it got; neither it nor the secret reach the page.
    userinfo = oauth_server.requests("/userinfo")
    assert userinfo, "the hub never read the connected account"
    access_token = userinfo[-1]["headers"]["authorization"].split(" ", 1)[1]
    html = page.content()
    assert access_token not in html
    assert not long_jwts(html), "the start page shows something that looks like a token"
    assert CLIENT_SECRET not in html
    assert integration_id in page.url


def test_a_program_starts_and_the_users_browser_continues(page, live_hub, ada, session,
                                                         oauth_integration, oauth_server):
    """A program holding ada's API token starts the flow and opens the one-time start
    address it gets in ada's browser: the hub asks her to sign in, then sends her on to
    the provider, and the callback completes in that browser."""
    integration_id = oauth_integration(NAME, shares={ada: 1})
    user = session.scalars(select(User).where(User.username == ada)).one()
    token = factories.token(session, user, "a program")
    session.commit()
    with requests.Session() as program:
        program.trust_env = False
        started = program.get(f"{live_hub}/api/integrations/{integration_id}/connect",
                              params={"returnTo": "/"}, allow_redirects=False, timeout=10,
                              headers={"Authorization": f"Bearer {token}"})
    assert started.status_code == 302, started.text
    start = started.headers["Location"]
    assert start.startswith(f"{live_hub}/oauth2/start/"), start

    page.goto(start)
    page.wait_for_url(lambda url: url.startswith(f"{live_hub}/login?"))
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: url.startswith(f"{live_hub}/?"))

    assert "status=connected" in page.url, page.url
    expect(card(page).locator(".state")).to_have_text("Connected")
    only(oauth_server.requests("/authorize"), "GET /authorize")
    only(oauth_server.requests("/token"), "POST /token")


def test_connect_with_basic_client_authentication(page, live_hub, ada, oauth_integration,
                                                  oauth_server):
    oauth_integration(NAME, shares={ada: 1}, basic_token_auth=True)

    sign_in(page, live_hub)
    connect(page, live_hub)

    expect(page.locator("p.notice")).to_have_text("Connected.")
    expect(card(page).locator(".state")).to_have_text("Connected")
    token = only(oauth_server.requests("/token"), "POST /token")
    headers = {k.lower(): v for k, v in token["headers"].items()}
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    assert scheme.lower() == "basic", f"no HTTP Basic client authentication: {headers}"
    assert base64.b64decode(credentials).decode() == f"{CLIENT_ID}:{CLIENT_SECRET}"
    assert "client_secret" not in (token["form"] or {})
    assert CLIENT_SECRET not in (token["body"] or "")


def test_disconnect_in_the_browser(page, live_hub, ada, oauth_integration, oauth_server):
    oauth_integration(NAME, shares={ada: 1})
    sign_in(page, live_hub)
    connect(page, live_hub)
    expect(card(page).locator(".state")).to_have_text("Connected")

    card(page).get_by_role("button", name="Disconnect").click()
    page.wait_for_url(f"{live_hub}/")

    expect(card(page).locator(".state")).to_have_text("Not connected")
    expect(card(page).get_by_role("link", name="Connect")).to_be_visible()
    revoked = only([r for r in oauth_server.requests("/revoke") if r["method"] == "POST"],
                   "POST /revoke")
    assert revoked["form"], f"the revocation request is not a form: {revoked['body']!r}"
    assert revoked["form"].get("token")
    assert revoked["form"].get("token_type_hint") in ("refresh_token", "access_token")


def test_connect_in_a_popup_posts_the_result_to_the_opener(
        page, app, migrated_app, ada, oauth_integration, oauth_server, serve_wsgi, tmp_path):
    integration_id = oauth_integration(NAME, shares={ada: 1})

    opener_html = {"/": ""}

    def opener_app(environ, start_response):
        body = opener_html.get(environ.get("PATH_INFO", "/"), "<!doctype html><p>done</p>")
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body.encode("utf-8")]

    opener = serve_wsgi(opener_app)
    # A hub of its own on the same database, which lets returnTo point at the opener's origin.
    popup_hub_app = create_app(make_settings(migrated_app.config["HUB_SETTINGS"].database_url,
                                             tmp_path, HUB_ALLOWED_RETURN_ORIGINS=opener))
    try:
        hub = serve_wsgi(popup_hub_app)
        opener_html["/"] = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>opener</title></head><body>
<button id="go">Connect in a popup</button>
<pre id="out"></pre>
<script>
  const HUB = {json.dumps(hub)};
  window.addEventListener("message", e => {{
    if (e.origin === HUB) document.getElementById("out").textContent = JSON.stringify(e.data);
  }});
  document.getElementById("go").addEventListener("click", () => {{
    window.open(HUB + "/api/integrations/{quote(integration_id)}/connect?popup=true&returnTo="
                + encodeURIComponent(location.origin + "/done"), "connect");
  }});
</script>
</body></html>"""

        sign_in(page, hub)
        page.goto(f"{opener}/")
        failed = failed_responses(page)
        with page.expect_popup() as opened:
            page.click("#go")
        popup = opened.value

        try:
            page.wait_for_function("document.getElementById('out').textContent !== ''",
                                   timeout=10_000)
        except PlaywrightTimeoutError:
            pytest.fail(f"no oauth-result message reached the opener in 10 s; the popup is "
                        f"{'closed' if popup.is_closed() else 'still open on ' + popup.url}; "
                        f"failed requests: {failed or 'none'}")
        message = json.loads(page.text_content("#out"))
        assert message == {"type": "integration-hub:oauth-result", "status": "connected",
                           "code": "connected", "integrationId": integration_id}
        for _ in range(100):  # the result page closes its window itself
            if popup.is_closed():
                break
            page.wait_for_timeout(100)
        assert popup.is_closed(), f"the popup stayed open on {popup.url}"

        only(oauth_server.requests("/token"), "POST /token")
        page.goto(f"{hub}/")
        expect(card(page).locator(".state")).to_have_text("Connected")
    finally:
        popup_hub_app.extensions["integration_hub.db"].kw["bind"].dispose()


def test_provider_refusal_in_the_browser(page, live_hub, ada, oauth_integration, oauth_server):
    oauth_integration(NAME, shares={ada: 1})
    sign_in(page, live_hub)
    oauth_server.next_authorize(error="access_denied", error_description="user said no")

    connect(page, live_hub)

    assert "status=error" in page.url and "code=provider_error" in page.url
    expect(page.locator("p.notice")).to_have_text("Connecting failed (provider_error).")
    expect(card(page).locator(".state")).to_have_text("Not connected")
    only(oauth_server.requests("/authorize"), "GET /authorize")
    assert oauth_server.requests("/token") == [], "the hub asked for a token after a refusal"


def test_hub_pages_load_their_scripts_and_styles(page, live_hub, ada, oauth_integration,
                                                 oauth_server):
    """The sign-in page, the start page and the result page (a connect without returnTo
    finishes on it) load their stylesheet and script: the popup flow depends on that script."""
    integration_id = oauth_integration(NAME, shares={ada: 1})
    failed = failed_responses(page)
    loaded: list[str] = []
    page.on("requestfinished", lambda r: loaded.append(r.url))

    sign_in(page, live_hub)
    page.goto(f"{live_hub}/api/integrations/{integration_id}/connect")
    page.wait_for_url(lambda url: url.startswith(f"{live_hub}/oauth2/callback?"))
    expect(page.locator("#oauth-result")).to_have_attribute("data-status", "connected")
    page.wait_for_load_state("load")

    assert f"{live_hub}/static/hub.css" in loaded
    assert f"{live_hub}/static/oauth-result.js" in loaded
    assert failed == [], "the hub's pages requested things that failed"
