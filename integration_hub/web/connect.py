"""Browser pages for connecting: the start page's list, the one-time start address of an
OAuth flow started with an API token, the OAuth callback and result."""

from __future__ import annotations

from flask import Blueprint, g, make_response, redirect, render_template, request, url_for

from integration_hub import errors
from integration_hub.audit.entries import Actor
from integration_hub.connections import lifecycle
from integration_hub.connections import store as connections
from integration_hub.db.session import db_session
from integration_hub.edge import flow_cookie
from integration_hub.edge.security import check_csrf, csrf_token, current_actor, session_user
from integration_hub.integrations import icons
from integration_hub.integrations import store as integrations
from integration_hub.integrations.acl import caller_access
from integration_hub.oauth import flow as oauth_flow
from integration_hub.oauth import rules as oauth_rules
from integration_hub.web import cards

bp = Blueprint("connect_pages", __name__, template_folder="templates")
AFTER_SIGN_IN = "sign-in"  # ?after= of a start address the sign-in form sends the browser to


def integration_cards(user) -> list[cards.Card]:
    session = db_session()
    readable = integrations.list_all(session, user)  # each with the caller's access
    held = {c.integration_id: c for c in connections.connections_of_user(session, user,
                                                                         readable)}
    return [cards.card_of(integration, caller_access(integration), held.get(integration.id),
                          url_for("icons.Icon", integration_id=integration.id)
                          if icons.serves_icon(integration) else None)
            for integration in readable]


@bp.get("/")
def index():
    user = session_user()
    if user is None:
        return redirect(url_for("web.login", next=request.path))
    message, failed = None, request.args.get("status") == "error"
    if request.args.get("status") == "connected":
        message = "Connected."
    elif failed:
        message = f"Connecting failed ({request.args.get('code', 'error')})."
    return render_template("index.html", user=user, cards=integration_cards(user),
                           csrf_token=csrf_token(), message=message, failed=failed)


@bp.post("/integrations/<integration_id>/connect")
def connect_with_form(integration_id):
    """Connect an API-key, bearer or basic integration from the start page."""
    actor = _signed_in_with_csrf()
    fields = {name: request.form.get(name, "") for name in ("apiKey", "token", "username",
                                                              "password") if name in request.form}
    try:
        lifecycle.connect(actor, integration_id, fields, callback_uri="")
    except errors.HubError as failure:
        return redirect(url_for("connect_pages.index", status="error", code=failure.code), 303)
    return redirect(url_for("connect_pages.index", status="connected"), 303)


@bp.post("/integrations/<integration_id>/disconnect")
def disconnect(integration_id):
    actor = _signed_in_with_csrf()
    try:
        lifecycle.disconnect(actor, integration_id)
    except errors.HubError as failure:
        return redirect(url_for("connect_pages.index", status="error", code=failure.code), 303)
    return redirect(url_for("connect_pages.index"), 303)


def _signed_in_with_csrf() -> Actor:
    """The signed-in user as the acting principal of a page's change."""
    user = session_user()
    if user is None:
        raise errors.AuthenticationRequired("sign in first")
    check_csrf()
    g.user = user  # the page's user, as the API's authentication sets it for its views
    return current_actor()


@bp.get("/oauth2/start/<nonce>", endpoint="oauth_start")
def oauth_start(nonce):
    """The one-time address a flow started with an API token answers: in a browser signed
    in as the same user it sets the flow's cookie and goes on to the provider."""
    user = session_user()
    try:
        started = oauth_flow.open_start(db_session(), nonce, user)
    except oauth_flow.SignInFirst:
        here = url_for("connect_pages.oauth_start", nonce=nonce, after=AFTER_SIGN_IN)
        return redirect(url_for("web.login", next=here), 303)
    except errors.HubError as refused:
        return _result_page(oauth_flow.CallbackResult(False, refused.code, refused.detail),
                            refused.status)
    if request.args.get("after") == AFTER_SIGN_IN:
        # The sign-in form's redirects may not leave the hub (its pages' CSP has
        # form-action 'self'): a page of the hub's own goes on to the provider.
        answer = make_response(render_template("oauth_continue.html",
                                               target=started.authorize_url))
    else:
        answer = redirect(started.authorize_url, 302)
    answer.headers["Cache-Control"] = "no-store"
    flow_cookie.attach(answer, started.binding)
    return answer


@bp.get("/oauth2/callback", endpoint="oauth_callback")
def oauth_callback():
    """Where providers send the browser back. Public: the state names the flow, the flow's
    cookie proves this is the browser that started it."""
    state = request.args.get("state")
    result = oauth_flow.finish(db_session(), request.args.to_dict(), session_user(),
                               flow_cookie.presented(state), request.remote_addr)
    if result.return_to and not result.popup:
        params = {"status": "connected"} if result.ok else {"status": "error", "code": result.code}
        if result.integration is not None:
            params["integration"] = result.integration.id
        answer = redirect(oauth_rules.with_result(result.return_to, **params), 303)
    else:
        answer = _result_page(result, 200 if result.ok else 400)
    if state:
        flow_cookie.forget(answer, state)
    return answer


def _result_page(result: oauth_flow.CallbackResult, status: int):
    target_origin = (oauth_rules.origin(result.return_to)
                     if result.return_to and not result.return_to.startswith("/")
                     else request.host_url.rstrip("/"))
    page = render_template("oauth_result.html", result=result, target_origin=target_origin)
    return make_response(page, status)
