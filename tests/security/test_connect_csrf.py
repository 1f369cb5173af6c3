"""Connect CSRF: an OAuth2 flow completes only in the browser that started it.

Without that, a hub user starts a connect, hands the provider's address to someone else
(who need not use the hub at all), they consent with their own provider account, their
browser opens the hub's callback, and the hub user's connection now holds the victim's
account. The start sets a cookie on the hub's origin (its digest is bound to the flow);
the callback refuses, writing nothing, in a browser without it. A flow started with an API
token waits for a browser signed in to the hub as the same user (docs/security.md,
"The OAuth callback and the browser that started the flow").

The provider is the real test authorization server (it consents at once); browsers are
Flask test clients (each its own cookie jar) and, at the end, real Chromium.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select

from integration_hub.db.models import Connection, OAuthState
from integration_hub.dev.demo import demo_integrations
from integration_hub.oauth import rules as oauth_rules

PASSWORD = "a long enough password for alice"
HUB = "http://localhost"


@pytest.fixture
def alice(make_caller):
    return make_caller("alice", password=PASSWORD, email="alice@example.com")


@pytest.fixture
def mallory(make_caller):
    return make_caller("mallory", password=PASSWORD, email="mallory@example.com")


def browser_of(app, username: str, base_url: str = HUB):
    """A new browser signed in to the hub as ``username``."""
    browser = app.test_client()
    answer = browser.post("/api/login", json={"username": username, "password": PASSWORD},
                          base_url=base_url)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return browser


def connect_address(integration: str) -> str:
    return f"/api/integrations/{integration}/connect"


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def to_provider(browser, location: str) -> str:
    """``browser`` follows the hub's redirects until one leaves the hub; answers that one."""
    for _ in range(5):
        if not location.startswith(HUB + "/"):
            return location
        answer = browser.get(path_of(location))
        assert answer.status_code in (302, 303), answer.get_data(as_text=True)
        location = answer.headers["Location"]
    pytest.fail(f"the hub kept redirecting on the hub: {location}")


def consent(provider_url: str) -> str:
    """The provider consents at once: answers the callback address it sends the browser to."""
    with requests.Session() as http:
        http.trust_env = False
        answer = http.get(provider_url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = answer.headers["Location"]
    assert back.startswith(f"{HUB}/oauth2/callback?"), back
    return back


def assert_refused_writing_nothing(answer, status: int, code: str, oauth_server, session):
    page = answer.get_data(as_text=True)
    assert answer.status_code == status, page
    assert answer.mimetype == "text/html"
    assert f"<code>{code}</code>" in page
    assert oauth_server.requests("/token") == [], "the hub exchanged the code anyway"
    session.rollback()  # a fresh snapshot: the hub wrote in its own transactions
    assert session.scalars(select(Connection)).all() == []


def flow_of(session, callback: str) -> OAuthState:
    state = parse_qs(urlsplit(callback).query)["state"][0]
    session.rollback()
    return session.get(OAuthState, oauth_rules.state_digest(state))


def connection_owner(session) -> str:
    session.rollback()  # a fresh snapshot: the hub wrote in its own transactions
    (connection,) = session.scalars(select(Connection)).all()
    return connection.owner_id


def start_and_consent(app, caller, browser, integration: str, started_with: str) -> str:
    """``caller`` starts a flow (in ``browser``, or from their program with their token,
    ``browser`` then opening the start address) and the provider consents: answers the
    callback address the provider sends the browser to."""
    if started_with == "browser session":
        started = browser.get(connect_address(integration))
    else:  # the caller's program, with their token and no cookies
        started = app.test_client().get(connect_address(integration), headers=caller.headers)
    assert started.status_code == 302, started.get_data(as_text=True)
    return consent(to_provider(browser, started.headers["Location"]))


@pytest.mark.parametrize("started_with", ["browser session", "API token"])
def test_the_callback_in_another_browser_connects_nothing(app, session, alice, oauth_server,
                                                          oauth_integration, started_with):
    integration = oauth_integration(shares={"alice": 1})
    alices_browser = browser_of(app, "alice")
    back = start_and_consent(app, alice, alices_browser, integration, started_with)

    stranger = app.test_client()  # no hub session, no cookies: the victim's browser
    refused = stranger.get(path_of(back))

    assert_refused_writing_nothing(refused, 400, "oauth_flow_not_this_browser", oauth_server,
                                   session)
    assert "another browser" in refused.get_data(as_text=True)
    # The refusal spent the flow: the code in the stranger's address (their consent) does
    # not connect in alice's browser either.
    assert flow_of(session, back).used_at is not None
    carried = alices_browser.get(path_of(back))
    assert_refused_writing_nothing(carried, 400, "state_reused", oauth_server, session)

    # alice starts again; her own browser completes her flow, once
    back = start_and_consent(app, alice, alices_browser, integration, started_with)
    finished = alices_browser.get(path_of(back))
    assert finished.status_code == 200, finished.get_data(as_text=True)
    assert connection_owner(session) == "alice"
    again = alices_browser.get(path_of(back))
    assert again.status_code == 400 and "<code>state_reused</code>" in again.get_data(as_text=True)


def test_a_forged_cookie_and_a_signed_in_stranger_are_refused_too(
        app, session, alice, mallory, oauth_server, oauth_integration):
    integration = oauth_integration(shares={"alice": 1})
    alices_browser = browser_of(app, "alice")

    started = alices_browser.get(connect_address(integration))
    back = consent(started.headers["Location"])
    (cookie,) = [c for c in started.headers.getlist("Set-Cookie") if "/oauth2/callback" in c]
    forger = app.test_client()
    forger.set_cookie(cookie.split("=", 1)[0], "a-value-the-forger-chose", path="/oauth2/callback")
    assert_refused_writing_nothing(forger.get(path_of(back)), 400,
                                   "oauth_flow_not_this_browser", oauth_server, session)
    assert flow_of(session, back).used_at is not None

    back = consent(alices_browser.get(connect_address(integration)).headers["Location"])
    signed_in_elsewhere = browser_of(app, "mallory")
    assert_refused_writing_nothing(signed_in_elsewhere.get(path_of(back)), 400,
                                   "state_user_mismatch", oauth_server, session)
    assert flow_of(session, back).used_at is not None


def test_a_start_address_sent_to_someone_else_starts_nothing(
        app, session, alice, mallory, oauth_server, oauth_integration):
    """mallory's program starts a flow and sends its one-time address to alice: opening it
    must not connect anything for anyone, and reach the provider for mallory only."""
    integration = oauth_integration(shares={"alice": 1, "mallory": 1})
    started = app.test_client().get(connect_address(integration), headers=mallory.headers)
    assert started.status_code == 302, started.get_data(as_text=True)
    start = started.headers["Location"]
    assert start.startswith(f"{HUB}/oauth2/start/"), start
    assert started.headers["Cache-Control"] == "no-store"
    assert not started.headers.getlist("Set-Cookie")

    alices = browser_of(app, "alice").get(path_of(start))
    assert_refused_writing_nothing(alices, 403, "oauth_start_other_user", oauth_server, session)
    (waiting,) = session.scalars(select(OAuthState)).all()
    assert waiting.browser_hash is None and waiting.used_at is None  # still mallory's, unopened
    assert not [c for c in alices.headers.getlist("Set-Cookie") if "oauth2/callback" in c]
    assert oauth_server.requests("/authorize") == []

    anonymous = app.test_client().get(path_of(start))
    assert anonymous.status_code == 303
    login = urlsplit(anonymous.headers["Location"])
    assert login.path == "/login"
    assert parse_qs(login.query)["next"] == [f"{urlsplit(start).path}?after=sign-in"]
    assert not anonymous.headers.getlist("Set-Cookie")

    mallorys_browser = browser_of(app, "mallory")
    opened = mallorys_browser.get(path_of(start))
    assert opened.status_code == 302
    assert opened.headers["Location"].startswith(oauth_server.authorize_url + "?")
    reopened = browser_of(app, "mallory").get(path_of(start))
    assert reopened.status_code == 400
    assert "<code>oauth_start_unknown</code>" in reopened.get_data(as_text=True)
    assert session.scalars(select(Connection)).all() == []

    mallorys_browser.get(path_of(consent(opened.headers["Location"])))
    assert connection_owner(session) == "mallory"


def test_the_flow_cookie_is_bound_narrowly(app, alice, oauth_integration, oauth_server):
    integration = oauth_integration(shares={"alice": 1})
    for base, secure in (("http://localhost", False), ("https://localhost", True)):
        started = browser_of(app, "alice", base).get(connect_address(integration),
                                                     base_url=base)
        assert started.status_code == 302
        (cookie,) = [c for c in started.headers.getlist("Set-Cookie") if "/oauth2/callback" in c]
        attributes = {part.split("=", 1)[0].strip().lower(): part.split("=", 1)[-1].strip()
                      for part in cookie.split(";")[1:]}
        assert attributes["path"] == "/oauth2/callback"
        assert attributes["samesite"] == "Lax" and "httponly" in attributes
        assert attributes["max-age"] == "600"
        assert ("secure" in attributes) is secure
        value = cookie.split(";", 1)[0].split("=", 1)[1]
        assert len(value) >= 43 and value not in started.headers["Location"]


# -- real Chromium -------------------------------------------------------------------------

def signed_in_page(context, hub: str):
    page = context.new_page()
    page.goto(f"{hub}/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{hub}/")
    return page


def test_in_real_browsers_the_victim_who_consents_connects_nothing(
        browser, live_hub, alice, make_integration, session):
    """The development provider asks for consent, as real ones do: alice starts and stops on
    its consent page, sends that page's address to a stranger, and the stranger allows access
    with their own account in their own browser. The hub refuses there, and that flow is
    spent; alice connects (her own account) by starting again in her browser."""
    demo = dict(demo_integrations(live_hub)[0][0])
    make_integration(demo.pop("name"), shares={"alice": 1}, **demo)
    alices, strangers = browser.new_context(), browser.new_context()
    try:
        page = signed_in_page(alices, live_hub)
        card = page.locator("li.card", has_text="Demo OAuth provider")
        card.get_by_role("link", name="Connect").click()
        page.wait_for_url(lambda url: "/dev/oauth/authorize?" in url)

        stranger = strangers.new_page()
        stranger.goto(page.url)
        expect(stranger.get_by_text("guest@example.com")).to_be_visible()
        stranger.get_by_role("button", name="Allow").click()
        stranger.wait_for_url(lambda url: is_callback(url))
        expect(stranger.locator("#oauth-result")).to_have_attribute(
            "data-code", "oauth_flow_not_this_browser")
        assert session.scalars(select(Connection)).all() == []

        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(lambda url: url.startswith(f"{live_hub}/?"))
        expect(page.locator("p.notice")).to_have_text("Connecting failed (state_reused).")
        expect(card.locator(".state")).to_have_text("Not connected")

        card.get_by_role("link", name="Connect").click()
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(lambda url: "status=connected" in url)
        expect(card.locator(".state")).to_have_text("Connected")
        session.rollback()  # a fresh snapshot: the hub wrote in its own transactions
        (connection,) = session.scalars(select(Connection)).all()
        assert connection.owner_id == "alice"
        assert connection.account["accountId"] == "dev-alice"
    finally:
        alices.close()
        strangers.close()


def is_callback(url: str) -> bool:
    return urlsplit(url).path == "/oauth2/callback"


def test_the_cookie_comes_back_on_the_providers_cross_site_redirect(
        browser, live_hub, alice, oauth_integration, oauth_server, session):
    """The hub is browsed as ``localhost`` and the provider is ``127.0.0.1``: the redirect
    back is cross-site, as with a real provider; the SameSite=Lax cookie still comes."""
    hub = live_hub.replace("127.0.0.1", "localhost")
    oauth_integration("Test Provider", shares={"alice": 1})
    context = browser.new_context()
    try:
        page = signed_in_page(context, hub)
        card = page.locator("li.card", has_text="Test Provider")
        card.get_by_role("link", name="Connect").click()
        page.wait_for_url(lambda url: url.startswith(f"{hub}/?"))
        assert "status=connected" in page.url, page.url
        expect(card.locator(".state")).to_have_text("Connected")
        assert oauth_server.requests("/authorize")[0]["query"]["redirect_uri"] == \
            f"{hub}/oauth2/callback"
        assert connection_owner(session) == "alice"
    finally:
        context.close()


@pytest.mark.parametrize("nonce", ["x" * 5000, "%ED%A0%80", "%F0%9F%94%91"])
def test_a_made_up_start_address_is_a_page_not_a_failure(app, alice, nonce):
    answer = browser_of(app, "alice").get(f"/oauth2/start/{nonce}")
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert "<code>oauth_start_unknown</code>" in answer.get_data(as_text=True)
    assert not [c for c in answer.headers.getlist("Set-Cookie") if "oauth2/callback" in c]


@pytest.mark.parametrize("value", ["\u00e9" * 40, "x" * 4000, '"quoted"', ""])
def test_a_callback_with_a_made_up_cookie_is_a_page_not_a_failure(app, session, alice,
                                                                  oauth_server,
                                                                  oauth_integration, value):
    integration = oauth_integration(shares={"alice": 1})
    started = browser_of(app, "alice").get(connect_address(integration))
    back = path_of(consent(started.headers["Location"]))
    name = oauth_rules.flow_cookie_name(parse_qs(urlsplit(back).query)["state"][0])
    answer = app.test_client().get(back, headers={"Cookie": f"{name}={value}"})
    assert_refused_writing_nothing(answer, 400, "oauth_flow_not_this_browser", oauth_server,
                                   session)
