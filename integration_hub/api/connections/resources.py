"""Connecting an integration: the browser redirect, programmatic connect, the
caller's connection, refresh, the owner's list and the connected account."""

from flask import redirect, request, url_for
from flask.views import MethodView

from integration_hub.api.common import PageArgsSchema, hal_page, href
from integration_hub.api.connections.schemas import (
    AccountArgsSchema,
    AccountSchema,
    ConnectArgsSchema,
    ConnectBodySchema,
    ConnectionPageSchema,
    ConnectionSchema,
)
from integration_hub.api.extensions import Blueprint
from integration_hub.connections import lifecycle as connections
from integration_hub.db.session import db_session
from integration_hub.edge import flow_cookie
from integration_hub.edge.security import authentication, current_actor, current_user, token_scope
from integration_hub.oauth import flow as oauth_flow

blp = Blueprint("connections", __name__, url_prefix="/api",
                description="Connections: the credentials users hold for integrations")


def callback_uri() -> str:
    """The exact redirect_uri: the hub's external base + /oauth2/callback."""
    return url_for("connect_pages.oauth_callback", _external=True)


@blp.route("/integrations/<integration_id>/connect")
@token_scope("admin")  # the GET starts an OAuth flow, which ends in a new connection
class Connect(MethodView):
    @blp.arguments(ConnectArgsSchema, location="query")
    @blp.response(302, description=(
        "With the browser's session: a redirect to the provider's authorization page, "
        "setting the cookie the callback requires. With an API token: a redirect to a "
        "one-time address on the hub (valid 10 minutes) to open in the user's browser, "
        "which continues there when it is signed in to the hub as the same user"))
    @blp.problems(401, 403, 404, 409, 422)
    def get(self, args, integration_id):
        """Start the browser OAuth2 flow (PKCE, one-time state valid 10 minutes)"""
        started = oauth_flow.start(
            current_actor(), integration_id, in_browser=authentication().by_session,
            redirect_uri=callback_uri(), hub_origin=request.host_url.rstrip("/"),
            return_to=args.get("return_to"), popup=args["popup"])
        if started.start_nonce is not None:
            answer = redirect(url_for("connect_pages.oauth_start", nonce=started.start_nonce,
                                      _external=True), code=302)
        else:
            answer = redirect(started.authorize_url, code=302)
            flow_cookie.attach(answer, started.binding)
        answer.headers["Cache-Control"] = "no-store"
        return answer

    @blp.arguments(ConnectBodySchema)
    @blp.response(201, ConnectionSchema)
    @blp.problems(400, 401, 403, 404, 409, 413, 415, 502, 504)
    def post(self, body, integration_id):
        """Connect without a browser: code, token, key or password as the auth type needs"""
        connection = connections.connect(current_actor(), integration_id, body,
                                         callback_uri=callback_uri())
        return connection, 201, {"Location": href("connections.Connection",
                                                  integration_id=connection.integration_id)}


@blp.route("/integrations/<integration_id>/connection")
class Connection(MethodView):
    @blp.response(200, ConnectionSchema)
    @blp.problems(401, 404)
    def get(self, integration_id):
        """Your connection (per-user mode) or the shared one; status ready when none is needed"""
        return connections.caller_state(db_session(), current_user(), integration_id)

    @blp.response(204)
    @blp.problems(401, 403, 404)
    def delete(self, integration_id):
        """Disconnect: forget the tokens and revoke them at the provider (best effort)"""
        connections.disconnect(current_actor(), integration_id)


@blp.route("/integrations/<integration_id>/connection/refresh")
class Refresh(MethodView):
    @blp.response(200, ConnectionSchema)
    @blp.problems(401, 403, 404, 409, 502, 503, 504)
    def post(self, integration_id):
        """Refresh the OAuth token now"""
        return connections.refresh(current_actor(), integration_id)


@blp.route("/integrations/<integration_id>/connections")
class Connections(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ConnectionPageSchema)
    @blp.problems(401, 403, 404)
    def get(self, args, integration_id):
        """Every connection of the integration (owner or administrator)"""
        integration, items, total = connections.page(db_session(), current_user(), integration_id,
                                                     args["start"], args["limit"])
        return hal_page("connections.Connections", "inf:connection", items, args["start"],
                        args["limit"], total, integration_id=integration.id)


@blp.route("/integrations/<integration_id>/connections/<connection_id>")
class ListedConnection(MethodView):
    @blp.response(200, ConnectionSchema)
    @blp.problems(401, 403, 404)
    def get(self, integration_id, connection_id):
        """One connection of the integration (owner or administrator)"""
        return connections.listed(db_session(), current_user(), integration_id, connection_id)


@blp.route("/integrations/<integration_id>/account")
class Account(MethodView):
    @blp.arguments(AccountArgsSchema, location="query")
    @blp.response(200, AccountSchema)
    @blp.problems(401, 403, 404, 409, 502, 503, 504)
    def get(self, args, integration_id):
        """The connected account; refresh=true reads it again from the provider"""
        return connections.account(db_session(), current_user(), integration_id, args["refresh"])
