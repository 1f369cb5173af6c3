"""The start page (``/``) as a person sees it in Chromium: what each integration's card says,
and which fields and buttons it offers, for the access the person has.

Integrations are made by the administrator and shared with ada, who signs in at /login.
Connections are made the way people make them (the demo provider's consent page in the
browser) or, where only the stored account matters, through the hub's own services.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from integration_hub.audit.entries import Actor
from integration_hub.connections import store as connections
from integration_hub.db.models import Integration, User
from integration_hub.dev.demo import demo_integrations
from tests import factories
from tests.support import browser

USERNAME = "ada"
PASSWORD = "a long enough password for ada"
SHARED_KEY = "shared-inventory-key-5521"
UNSET_CLIENT_ID = "replace-with-your-client-id"  # what the demo puts in place of GitHub's
# An OAuth integration whose provider is never reached in these tests.
CALENDAR = {"auth_type": "oauth2", "auth_uri": "https://auth.example.com/authorize",
            "token_uri": "https://auth.example.com/token", "client_id": "calendar-client",
            "mode": "per-user"}


@pytest.fixture(scope="session", params=["sqlite"])
def backend(request) -> str:
    """What a page shows does not depend on the hub's database (the statements it reads
    with run on both in tests/api): one backend is enough."""
    return request.param


@pytest.fixture
def ada(session):
    factories.user(session, USERNAME, password=PASSWORD, display_name="Ada Lovelace",
                   email="ada@example.com")
    session.commit()
    return USERNAME


def sign_in(page, base: str) -> None:
    browser.sign_in(page, base, USERNAME, PASSWORD)


def card(page, name: str):
    return page.locator("li.card", has=page.locator(".name", has_text=re.compile(
        f"^{re.escape(name)}$")))


def actions(page, name: str):
    """Everything on the card a person can press or type into."""
    return card(page, name).locator(
        "button, a, summary, input:not([type=hidden]), select, textarea")


def connect_demo_provider(page, base: str, name: str) -> None:
    card(page, name).get_by_role("link", name="Connect").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(lambda url: url.startswith(f"{base}/?status=connected"))


def test_cards_say_in_words_how_each_integration_connects(page, live_hub, ada,
                                                          make_integration):
    make_integration("Inventory", auth_type="apikey", mode="shared", api_key=SHARED_KEY,
                     shares={ada: 2})
    make_integration("OpenAI", type="openai", auth_type="bearer", shares={ada: 1})
    make_integration("Partner portal", auth_type="basic", mode="per-user", shares={ada: 1})
    make_integration("Product catalog", auth_type="none", mode="shared", shares={ada: 1})

    sign_in(page, live_hub)

    expect(card(page, "Inventory").locator(".meta")).to_have_text("API key · Shared")
    expect(card(page, "OpenAI").locator(".meta")).to_have_text("Access token · Personal")
    expect(card(page, "Partner portal").locator(".meta")).to_have_text(
        "Username and password · Personal")
    expect(card(page, "Product catalog").locator(".meta")).to_have_text(
        "No sign-in · Shared")
    for raw in ("apikey", "per-user", "bearer", "basic ·", "none ·"):
        expect(page.locator("main")).not_to_contain_text(raw)


def test_fields_are_labelled_and_say_what_to_paste(page, live_hub, ada, make_integration):
    make_integration("OpenAI", type="openai", auth_type="bearer", shares={ada: 1})
    make_integration("Partner portal", auth_type="basic", mode="per-user", shares={ada: 1})
    make_integration("Stock API", auth_type="apikey", mode="shared", shares={ada: 2})

    sign_in(page, live_hub)

    token = card(page, "OpenAI").get_by_label("Access token")
    expect(token).to_have_attribute("placeholder", "Paste your OpenAI access token")
    expect(token).to_have_attribute("type", "password")
    portal = card(page, "Partner portal")
    expect(portal.get_by_label("Username")).to_have_attribute(
        "placeholder", "Your Partner portal username")
    expect(portal.get_by_label("Password")).to_have_attribute(
        "placeholder", "Your Partner portal password")
    key = card(page, "Stock API").get_by_label("API key")
    expect(key).to_have_attribute("placeholder", "Paste the Stock API key everyone will use")


def test_every_button_looks_the_same(page, live_hub, ada, make_integration):
    """The Connect link of an OAuth integration, a form's Connect button, Disconnect and
    Sign out share one style."""
    demo = dict(demo_integrations(live_hub)[0][0])
    make_integration(demo.pop("name"), shares={ada: 1}, **demo)
    make_integration("OpenAI", type="openai", auth_type="bearer", shares={ada: 1})
    make_integration("Partner portal", auth_type="basic", mode="per-user", shares={ada: 1})
    make_integration("Calendar", **CALENDAR, shares={ada: 1})
    sign_in(page, live_hub)
    connect_demo_provider(page, live_hub, "Demo OAuth provider")
    expect(card(page, "Demo OAuth provider").get_by_role("button", name="Disconnect")).to_be_visible()
    expect(card(page, "OpenAI").get_by_role("button", name="Connect")).to_be_visible()
    expect(card(page, "Calendar").get_by_role("link", name="Connect")).to_be_visible()

    styles = page.eval_on_selector_all("button, a.button", """elements => elements.map(e => {
        const s = getComputedStyle(e);
        return {text: e.textContent.trim(), background: s.backgroundColor, color: s.color,
                border: s.borderTopWidth + ' ' + s.borderTopStyle + ' ' + s.borderTopColor,
                radius: s.borderTopLeftRadius, font: s.fontSize + ' ' + s.fontWeight,
                padding: s.paddingTop + ' ' + s.paddingLeft, height: e.offsetHeight};
    })""")
    texts = {s["text"] for s in styles}
    assert {"Connect", "Disconnect", "Sign out"} <= texts, texts
    looks = {tuple((k, v) for k, v in s.items() if k != "text") for s in styles}
    assert len(looks) == 1, "buttons look different:\n" + "\n".join(map(str, styles))


def test_a_connected_card_names_the_account(page, live_hub, ada, make_integration):
    demo = dict(demo_integrations(live_hub)[0][0])
    make_integration(demo.pop("name"), shares={ada: 1}, **demo)

    sign_in(page, live_hub)
    connect_demo_provider(page, live_hub, "Demo OAuth provider")

    connected = card(page, "Demo OAuth provider")
    expect(connected.locator(".state")).to_have_text("Connected")
    expect(connected.locator(".account")).to_have_text("as Ada Lovelace (ada@example.com)")


@pytest.mark.parametrize(("account", "shown"), [
    ({"displayName": "Ada L.", "email": "ada@example.com", "accountId": "4711"},
     "as Ada L. (ada@example.com)"),
    ({"displayName": "Ada L.", "accountId": "4711"}, "as Ada L. (account 4711)"),
    ({"email": "ada@example.com", "accountId": "4711"}, "as ada@example.com"),
    ({"accountId": "4711"}, "as account 4711"),
])
def test_the_account_shown_is_what_the_connection_knows(page, app, live_hub, ada, session,
                                                        make_integration, account, shown):
    integration_id = make_integration("Calendar", **CALENDAR, shares={ada: 1})
    with app.app_context():
        user = session.scalars(select(User).where(User.username == ada)).one()
        connection = connections.store_token(session, Actor.of_user(user, "cli", None),
                                             session.get(Integration, integration_id),
                                             {"access_token": "calendar-access-token-0815"})
        connection.account = account
        session.commit()

    sign_in(page, live_hub)

    expect(card(page, "Calendar").locator(".account")).to_have_text(shown)


def test_a_read_only_share_of_a_shared_integration_offers_nothing_to_replace_it(
        page, app, live_hub, ada, session, admin, make_integration):
    """Connecting (or disconnecting) a shared-mode integration changes it for everyone: it
    needs write access, and a reader's card offers no field or button that would try."""
    make_integration("Inventory", auth_type="apikey", mode="shared", api_key=SHARED_KEY,
                     shares={ada: 1})
    make_integration("Team wiki", auth_type="apikey", mode="shared", shares={ada: 1})
    connected_id = make_integration("Ticketing", auth_type="apikey", mode="shared",
                                    shares={ada: 1})
    make_integration("Stock API", auth_type="apikey", mode="shared", api_key=SHARED_KEY,
                     shares={ada: 2})
    with app.app_context():
        root = session.scalars(select(User).where(User.username == admin.username)).one()
        connections.store_credentials(session, Actor.of_user(root, "cli", None),
                                      session.get(Integration, connected_id),
                                      {"api_key": "ticketing-key-3141"})
        session.commit()

    sign_in(page, live_hub)

    for name in ("Inventory", "Team wiki", "Ticketing"):
        expect(actions(page, name)).to_have_count(0)
    expect(card(page, "Inventory").locator(".state")).to_have_text("Ready to use")
    expect(card(page, "Team wiki").locator(".state")).to_have_text("Not connected")
    expect(card(page, "Team wiki")).to_contain_text(
        "Someone who manages this shared integration connects it for everyone")
    expect(card(page, "Ticketing").locator(".state")).to_have_text("Connected")
    # A writer of the same kind of integration may replace its key for everyone: the
    # field is there, folded away since the integration works as it is.
    stock = card(page, "Stock API")
    expect(stock.get_by_label("API key")).to_be_hidden()
    stock.get_by_text("Change the shared key").click()
    expect(stock.get_by_label("API key")).to_be_visible()
    expect(stock.get_by_role("button", name="Replace key")).to_be_visible()


def test_an_integration_without_auth_needs_no_connection(page, live_hub, ada,
                                                       make_integration):
    make_integration("Product catalog", auth_type="none", mode="shared", shares={ada: 2})
    make_integration("Weather", auth_type="none", mode="per-user", shares={ada: 1})

    sign_in(page, live_hub)

    for name in ("Product catalog", "Weather"):
        expect(actions(page, name)).to_have_count(0)
        expect(card(page, name).locator(".state")).to_have_text("No connection needed")


def test_an_oauth_integration_without_its_client_id_needs_an_administrator(
        page, live_hub, ada, make_integration, oauth_server):
    make_integration("GitHub", type="github", auth_type="oauth2", client_id=UNSET_CLIENT_ID, shares={ada: 1})
    make_integration("Test Provider", type="test-provider", auth_type="oauth2",
                     auth_uri=oauth_server.authorize_url, token_uri=oauth_server.token_url,
                     client_id="hub-client", shares={ada: 1})

    sign_in(page, live_hub)

    expect(actions(page, "GitHub")).to_have_count(0)
    expect(card(page, "GitHub").locator(".state")).to_have_text(
        "Needs setup by an administrator")
    expect(card(page, "Test Provider").get_by_role("link", name="Connect")).to_be_visible()
    assert oauth_server.requests("/authorize") == []
