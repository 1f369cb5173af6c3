"""Browser pages for connecting: the start page's list, the OAuth callback and result."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from integration_hub import errors
from integration_hub.db.session import db_session
from integration_hub.security import check_csrf, csrf_token, session_user
from integration_hub.services import (
    connections,
    icons,
    integrations,
    oauth_flow,
    oauth_rules,
    programmatic_connect,
)
from integration_hub.services.integrations import usable_without_connection

bp = Blueprint("connect_pages", __name__, template_folder="templates")


def integration_cards(user) -> list[dict]:
    session = db_session()
    readable = integrations.list_all(session, user)
    connected = connections.connected_integration_ids(session, user, readable)
    states = {c.integration_id: c.status for c in
              connections.connections_of_user(session, user, readable)}
    cards = []
    for integration in readable:
        cards.append({
            "integration": integration,
            "icon": url_for("icons.Icon", integration_id=integration.id)
            if icons.serves_icon(integration) else None,
            "connected": integration.id in connected,
            "usable": integration.id in connected or usable_without_connection(integration),
            "status": states.get(integration.id),
            "needs": programmatic_connect.fields_to_connect(integration),
        })
    return cards


@bp.get("/")
def index():
    user = session_user()
    if user is None:
        return redirect(url_for("web.login", next=request.path))
    message = None
    if request.args.get("status") == "connected":
        message = "Connected."
    elif request.args.get("status") == "error":
        message = f"Connecting failed ({request.args.get('code', 'error')})."
    return render_template("index.html", user=user, cards=integration_cards(user),
                           csrf_token=csrf_token(), message=message)


@bp.post("/integrations/<integration_id>/connect")
def connect_with_form(integration_id):
    """Connect an API-key, bearer or basic integration from the start page."""
    user = _signed_in_with_csrf()
    fields = {name: request.form.get(name, "") for name in ("apiKey", "token", "username",
                                                              "password") if name in request.form}
    session = db_session()  # connect_with asks the health check outside any transaction
    try:
        found = integrations.find(session, user, integration_id)
        programmatic_connect.connect_with(session, user, found, fields, callback_uri="")
    except errors.HubError as failure:
        return redirect(url_for("connect_pages.index", status="error", code=failure.code), 303)
    return redirect(url_for("connect_pages.index", status="connected"), 303)


@bp.post("/integrations/<integration_id>/disconnect")
def disconnect(integration_id):
    user = _signed_in_with_csrf()
    session = db_session()  # disconnect commits, then revokes outside any transaction
    connections.disconnect(session, user, integrations.find(session, user, integration_id))
    return redirect(url_for("connect_pages.index"), 303)


def _signed_in_with_csrf():
    user = session_user()
    if user is None:
        raise errors.AuthenticationRequired("sign in first")
    check_csrf()
    return user


@bp.get("/oauth2/callback", endpoint="oauth_callback")
def oauth_callback():
    """Where providers send the browser back. Public: the state proves who started it."""
    result = oauth_flow.finish(db_session(), request.args.to_dict(), session_user())
    if result.return_to and not result.popup:
        params = {"status": "connected"} if result.ok else {"status": "error", "code": result.code}
        if result.integration is not None:
            params["integration"] = result.integration.id
        return redirect(oauth_rules.with_result(result.return_to, **params), 303)
    target_origin = (oauth_rules.origin(result.return_to)
                     if result.return_to and not result.return_to.startswith("/")
                     else request.host_url.rstrip("/"))
    page = render_template("oauth_result.html", result=result, target_origin=target_origin)
    return page, 200 if result.ok else 400
