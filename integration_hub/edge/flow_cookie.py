"""The cookie binding an OAuth flow to the browser that started it (docs/security.md).

One cookie per flow, holding a random value whose digest the flow keeps: HttpOnly,
SameSite=Lax (a top-level redirect back from the provider carries it, requests other
sites make do not), Secure when the hub is served over https (and always in production,
like the session cookie), sent only to the callback (its Path), and living as long as
the flow. The callback deletes it.
"""

from __future__ import annotations

from flask import Response, current_app, request, url_for

from integration_hub.oauth import rules as oauth_rules
from integration_hub.oauth.flow import Binding

MAX_AGE = int(oauth_rules.STATE_LIFETIME.total_seconds())


def attach(response: Response, binding: Binding) -> None:
    response.set_cookie(binding.cookie_name, binding.value, max_age=MAX_AGE, **_scope())


def presented(state: str | None) -> str | None:
    """The flow cookie this browser sent for the flow of ``state``, if any."""
    return request.cookies.get(oauth_rules.flow_cookie_name(state)) if state else None


def forget(response: Response, state: str) -> None:
    response.delete_cookie(oauth_rules.flow_cookie_name(state), **_scope())


def _scope() -> dict:
    return {"path": url_for("connect_pages.oauth_callback"), "httponly": True, "samesite": "Lax",
            "secure": request.is_secure or current_app.config["SESSION_COOKIE_SECURE"]}
