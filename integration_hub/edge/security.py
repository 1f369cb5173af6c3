"""Who is calling: bearer tokens for programs, session cookies for browsers.

Every API endpoint needs an authenticated user unless its view is marked
``@public``. Cookie-authenticated writes must carry the session's CSRF token
(header ``X-CSRF-Token`` or form field ``csrf_token``); bearer calls need none,
because a browser never attaches a bearer token on its own.

A view marked ``@api_token_only`` (the request proxy) refuses the session cookie.
Programs may send the token as HTTP Basic instead (edge/authorization_header.py).

A bearer token reaches only what its scopes cover (identity/token_scopes.py): checked here,
once, before any view runs. A view marked ``@token_scope(...)`` needs that scope for every
method; any other needs ``read`` to look and ``admin`` to change. The browser session holds
every scope.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request, session, url_for

from integration_hub import errors
from integration_hub.audit.entries import Actor
from integration_hub.config import current_settings
from integration_hub.db.models import Tenant, User
from integration_hub.db.session import db_session, writing
from integration_hub.edge.authorization_header import api_token_of
from integration_hub.identity import browser_sessions, token_scopes, tokens

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"


@dataclass(frozen=True)
class Authentication:
    """How the caller proved who they are, recorded once per request by
    ``authenticate_request``: with an API token (``token``: whose it is and its scopes),
    or with the browser session (``token`` None)."""

    token: tokens.Bearer | None

    @property
    def by_session(self) -> bool:
        return self.token is None


def authentication() -> Authentication | None:
    """How this request's caller authenticated; None before that, or on a public endpoint."""
    return g.get("authentication")


def public(view: Any) -> Any:
    """Mark a view function or MethodView as reachable without authentication."""
    view.hub_public = True
    return view


def api_token_only(view: Any) -> Any:
    """Mark a view function or MethodView that answers to API tokens only, never to the
    browser session: what it serves is not the hub's own (docs/security.md)."""
    view.hub_api_token_only = True
    return view


def token_scope(scope: str) -> Any:
    """Mark a view function or MethodView as needing ``scope`` of a bearer token for every
    method, instead of ``read`` for GET/HEAD and ``admin`` for the rest."""
    if scope not in token_scopes.SCOPES:
        raise ValueError(f"unknown token scope {scope!r}")

    def mark(view: Any) -> Any:
        view.hub_token_scope = scope
        return view

    return mark


def _view_mark(name: str) -> Any:
    """A mark on the endpoint's view function or its MethodView class, if any."""
    view = current_app.view_functions.get(request.endpoint or "")
    marked = getattr(view, name, None)
    return marked if marked is not None else getattr(getattr(view, "view_class", None), name, None)


def _is_public_endpoint() -> bool:
    if current_app.view_functions.get(request.endpoint or "") is None:
        return True  # unknown route: let routing answer 404/405
    return bool(_view_mark("hub_public"))


def authenticate_request() -> None:
    """before_request hook for the API blueprints."""
    if _is_public_endpoint():
        return
    if request.headers.get("Authorization") is None and _is_api_token_only_endpoint():
        _refuse_without_token()
    g.user, g.authentication = _authenticate()
    if g.authentication.token is not None:
        _check_token_scope(g.authentication.token.scopes)


def _is_api_token_only_endpoint() -> bool:
    return bool(_view_mark("hub_api_token_only"))


def _check_token_scope(held: tuple[str, ...]) -> None:
    needed = token_scopes.needed(request.method, _view_mark("hub_token_scope"))
    if needed not in held:
        raise errors.TokenScopeInsufficient(
            f"this request needs an API token with the '{needed}' scope; this token holds "
            f"{', '.join(held) or 'none'}. Make one with it (POST /api/tokens with a browser "
            "session or an admin token, or integration-hub create-token)",
            requiredScope=needed, tokenScopes=list(held))


def _refuse_without_token() -> None:
    if session_user() is None:
        raise errors.AuthenticationRequired("send 'Authorization: Bearer <api token>'")
    raise errors.ApiTokenRequired(
        "this endpoint does not accept the browser session: it serves what an integration's "
        "upstream answers, and a script in that would run on the hub's origin with your "
        "session. Send 'Authorization: Bearer <api token>' (POST /api/tokens makes one)",
        _links={"inf:tokens": {"href": url_for("tokens.Tokens")}})


def _authenticate() -> tuple[User, Authentication]:
    header = request.headers.get("Authorization")
    if header is not None:
        token = tokens.bearer_of(
            db_session(), api_token_of(header, request.headers),
            touch_after=current_settings().token_last_used_resolution)
        g.tenant = token.tenant
        return token.user, Authentication(token=token)
    user = session_user()
    if user is None:
        raise errors.AuthenticationRequired(
            "send 'Authorization: Bearer <api token>' or sign in at POST /api/login")
    if request.method not in SAFE_METHODS:
        check_csrf()
    return user, Authentication(token=None)


def session_user() -> User | None:
    """The user of a live browser session, if there is one: the cookie names the session,
    the database says whether it still stands (identity/browser_sessions.py)."""
    session_id = session.get("sid")
    if not isinstance(session_id, str):  # not signed in (a cookie may hold a CSRF token only)
        return None
    user = browser_sessions.user_of(db_session(), session_id)
    if user is None or not user.enabled:
        session.clear()
        return None
    return user


def check_csrf() -> None:
    expected = session.get("csrf")
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FORM_FIELD)
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise errors.CsrfFailed(
            f"cookie-authenticated writes need the {CSRF_HEADER} header from POST /api/login")


def csrf_token() -> str:
    """The session's CSRF token, created on first use (also for the login form)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def sign_in(user: User) -> str:
    """Start a fresh session for ``user``, ending the one this browser had, and return its
    CSRF token."""
    previous = session.get("sid")
    session.clear()
    session.permanent = True
    with writing(db_session()) as database:
        session["sid"] = browser_sessions.start(
            database, user, current_app.permanent_session_lifetime,
            replacing=previous if isinstance(previous, str) else None)
    return csrf_token()


def sign_out() -> None:
    """End this browser's session, here and in every other process."""
    session_id = session.get("sid")
    if isinstance(session_id, str):
        with writing(db_session()) as database:
            browser_sessions.end(database, session_id)
    session.clear()


def current_user() -> User:
    user = g.get("user")
    if user is None:
        raise errors.AuthenticationRequired()
    return user


def current_actor() -> Actor:
    """Who is acting in this request, for use cases and their audit entries: the signed-in
    user, through the API or a web page, from the address seen after the trusted proxies."""
    channel = "api" if request.path.startswith("/api") else "web"
    return Actor.of_user(current_user(), channel, request.remote_addr)


def current_token_id() -> str | None:
    """The id of the API token the request came with; None for the browser session."""
    found = authentication()
    return found.token.token_id if found is not None and found.token is not None else None


def current_tenant() -> Tenant:
    """The caller's tenant (loaded with a bearer token's user, else by id)."""
    tenant = g.get("tenant")
    if tenant is None:
        tenant = g.tenant = db_session().get(Tenant, current_user().tenant_id)
    return tenant
