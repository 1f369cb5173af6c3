"""What people write shows on the start page as text, never as markup.

Integration names, the connected account's name as the provider tells it (here the demo
provider tells the hub user's own display name) and the code in the page's address are
all written by someone other than the reader. The page is looked at in Chromium: each
reads back character for character, and none of the elements or scripts they spell
exist or ran.
"""

from __future__ import annotations

from playwright.sync_api import expect

from integration_hub.dev.demo import demo_integrations
from tests import factories

PASSWORD = "a long enough password for eve"
PWNED = "document.title='pwned'"
PROVIDER = f"<script>{PWNED}</script><b id=\"injected-integration\">Evil</b> & Co"
KEYED = "\"><img id=\"injected-attribute\" src=x onerror=\"" + PWNED + "\">"
DISPLAY_NAME = f"<img id=\"injected-account\" src=x onerror=\"{PWNED}\">Eve"
INJECTED = "#injected-integration, #injected-attribute, #injected-account, #injected-code"


def test_names_and_accounts_are_shown_as_text(page, live_hub, session, make_integration):
    factories.user(session, "eve", password=PASSWORD, display_name=DISPLAY_NAME,
                   email="eve@example.com")
    session.commit()
    demo = dict(demo_integrations(live_hub)[0][0])
    demo.pop("name")
    make_integration(PROVIDER, shares={"eve": 1}, **demo)
    make_integration(KEYED, auth_type="apikey", mode="per-user", shares={"eve": 1})

    page.goto(f"{live_hub}/login")
    page.fill("input[name=username]", "eve")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_hub}/")
    provider = page.locator("li.card").filter(has_text="Evil")
    provider.get_by_role("link", name="Connect").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(lambda url: url.startswith(f"{live_hub}/?status=connected"))

    expect(provider.locator(".name")).to_have_text(PROVIDER)
    expect(provider.locator(".account")).to_have_text(f"as {DISPLAY_NAME} (eve@example.com)")
    expect(page.locator("header .who")).to_have_text(DISPLAY_NAME)
    keyed = page.locator("li.card").filter(has_text="injected-attribute")
    expect(keyed.locator(".name")).to_have_text(KEYED)
    expect(keyed.get_by_label("API key")).to_have_attribute("placeholder",
                                                           f"Paste your {KEYED} key")
    expect(page.locator(INJECTED)).to_have_count(0)

    page.goto(f"{live_hub}/?status=error&code=%3Cb%20id%3Dinjected-code%3Ex%3C%2Fb%3E")
    expect(page.locator("p.notice")).to_have_text("Connecting failed (<b id=injected-code>x</b>).")
    expect(page.locator(INJECTED)).to_have_count(0)
    assert page.title() != "pwned"
