"""What browser tests do in a page, as a person would."""

from __future__ import annotations


def sign_in(page, base: str, username: str, password: str) -> None:
    """Sign in on the hub's /login page and land on the start page."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
