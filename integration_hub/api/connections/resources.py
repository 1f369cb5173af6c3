"""Connecting an integration: the browser redirect, programmatic connect, the
caller's connection, refresh, the owner's list and the connected account."""

from datetime import timedelta

from flask import current_app, redirect, request, url_for
from flask.views import MethodView

from integration_hub.api.auditing import audited
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
from integration_hub.connections import connect_rules
from integration_hub.connections import programmatic as programmatic_connect
from integration_hub.connections import store as connections
from integration_hub.db.session import db_session, transaction
from integration_hub.db.types import utcnow
from integration_hub.edge import flow_cookie
from integration_hub.edge.security import authentication, current_user, token_scope
from integration_hub.integrations import store as integrations
from integration_hub.oauth import flow as oauth_flow
from integration_hub.oauth import refresh as token_refresh

blp = Blueprint("connections", __name__, url_prefix="/api",
                description="Connections: the credentials users hold for integrations")


def callback_uri() -> str:
    """The exact redirect_uri: the hub's external base + /oauth2/callback."""
    return url_for("connect_pages.oauth_callback", _external=True)


def refresh_skew() -> timedelta:
    return timedelta(seconds=current_app.config["HUB_SETTINGS"].token_refresh_skew)


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
        user = current_user()
        settings = current_app.config["HUB_SETTINGS"]
        in_browser = authentication().by_session
        with transaction() as session:
            found = integrations.find(session, user, integration_id)
            started = oauth_flow.start(
                session, user, found, in_browser=in_browser, redirect_uri=callback_uri(),
                hub_origin=request.host_url.rstrip("/"),
                allowed_origins=settings.allowed_return_origins,
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
    @audited("connection.create", "integration", "integration_id")
    def post(self, body, integration_id):
        """Connect without a browser: code, token, key or password as the auth type needs"""
        session = db_session()
        user = current_user()
        found = integrations.find(session, user, integration_id)
        connection = programmatic_connect.connect_with(session, user, found, body,
                                                       callback_uri=callback_uri())
        return connection, 201, {"Location": href("connections.Connection",
                                                  integration_id=found.integration.id)}


@blp.route("/integrations/<integration_id>/connection")
class Connection(MethodView):
    @blp.response(200, ConnectionSchema)
    @blp.problems(401, 404)
    def get(self, integration_id):
        """Your connection (per-user mode) or the shared one; status ready when none is needed"""
        session = db_session()
        user = current_user()
        return connections.state_of_caller(session, user,
                                           integrations.find(session, user, integration_id))

    @blp.response(204)
    @blp.problems(401, 403, 404)
    @audited("connection.delete", "integration", "integration_id")
    def delete(self, integration_id):
        """Disconnect: forget the tokens and revoke them at the provider (best effort)"""
        session = db_session()
        user = current_user()
        connections.disconnect(session, user, integrations.find(session, user, integration_id))


@blp.route("/integrations/<integration_id>/connection/refresh")
class Refresh(MethodView):
    @blp.response(200, ConnectionSchema)
    @blp.problems(401, 403, 404, 409, 502, 503, 504)
    def post(self, integration_id):
        """Refresh the OAuth token now"""
        session = db_session()
        user = current_user()
        found = integrations.find(session, user, integration_id)
        connections.require_connectable(found)
        connection = connections.connection_of(session, user, found.integration)
        if connection is None or connection.access_token_encrypted is None:
            raise connect_rules.NotConnected("there is no OAuth connection to refresh",
                                             integration=found.integration)
        return token_refresh.refresh_if_needed(session, found.integration, connection,
                                             refresh_skew(), force_after=utcnow())


@blp.route("/integrations/<integration_id>/connections")
class Connections(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ConnectionPageSchema)
    @blp.problems(401, 403, 404)
    def get(self, args, integration_id):
        """Every connection of the integration (owner or administrator)"""
        session = db_session()
        found = integrations.find(session, current_user(), integration_id)
        items, total = connections.list_connections(session, found, args["start"], args["limit"])
        return hal_page("connections.Connections", "inf:connection", items, args["start"],
                        args["limit"], total, integration_id=found.integration.id)


@blp.route("/integrations/<integration_id>/connections/<connection_id>")
class ListedConnection(MethodView):
    @blp.response(200, ConnectionSchema)
    @blp.problems(401, 403, 404)
    def get(self, integration_id, connection_id):
        """One connection of the integration (owner or administrator)"""
        session = db_session()
        found = integrations.find(session, current_user(), integration_id)
        return connections.get_listed_connection(session, current_user(), found, connection_id)


@blp.route("/integrations/<integration_id>/account")
class Account(MethodView):
    @blp.arguments(AccountArgsSchema, location="query")
    @blp.response(200, AccountSchema)
    @blp.problems(401, 403, 404, 409, 502, 503, 504)
    def get(self, args, integration_id):
        """The connected account; refresh=true reads it again from the provider"""
        session = db_session()
        user = current_user()
        found = integrations.find(session, user, integration_id)
        integration = found.integration
        if args["refresh"] and integration.auth_type == "oauth2":
            connection = token_refresh.usable_token_connection(session, user, integration,
                                                             refresh_skew())
            connections.attach_account(session, integration, connection)
        else:
            connection = connections.with_account(session, user, found)
        return connection
