"""Schemas of connections, connecting and the connected account."""

import marshmallow as ma

from integration_hub.api.common import HalSchema, href, page_schema
from integration_hub.connections import connect_rules
from integration_hub.connections import store as connections
from integration_hub.edge.security import current_user
from integration_hub.hal.forms import template
from integration_hub.integrations.acl import caller_access
from integration_hub.oauth.rules import ACCOUNT_FIELDS


def account_of(connection) -> dict:
    account = connection.account or {}
    return {name: account.get(name) for name in ACCOUNT_FIELDS}


def _account_field(name: str) -> ma.fields.Function:
    return ma.fields.Function(lambda connection: account_of(connection)[name], data_key=name,
                              allow_none=True)


class AccountSchema(HalSchema):
    """The account a connection was made with, dumped from the connection itself."""

    email = _account_field("email")
    display_name = _account_field("displayName")
    account_id = _account_field("accountId")

    def hal_links(self, connection):
        key = connection.integration_id
        return {"self": {"href": href("connections.Account", integration_id=key)},
                "inf:integration": {"href": href("integrations.Integration", integration_id=key)},
                "inf:connection": {"href": href("connections.Connection", integration_id=key)}}


class ConnectionSchema(HalSchema):
    id = ma.fields.String()
    integration_id = ma.fields.String(data_key="integrationId")
    owner_id = ma.fields.String(data_key="ownerId")
    is_shared = ma.fields.Boolean(data_key="isShared")
    status = ma.fields.String(metadata={
        "description": "active, expired, reauth_required, revoked or error; ready when no "
                       "connection is stored and none is needed (then without id, ownerId, "
                       "isShared, account, token times and dates)"})
    mode = ma.fields.Function(lambda state: state.integration.mode, metadata={
        "description": "The integration's mode: per-user or shared"})
    credentials = ma.fields.Method("_credentials", allow_none=True, metadata={
        "description": "What the caller's calls send: connection (this one), integration "
                       "(the integration's own key or login) or none (authType none); null "
                       "when this connection holds nothing usable"})
    scope = ma.fields.String(allow_none=True)
    token_expires_at = ma.fields.DateTime(data_key="tokenExpiresAt", allow_none=True)
    refresh_token_expires_at = ma.fields.DateTime(data_key="refreshTokenExpiresAt", allow_none=True)
    last_authorized_at = ma.fields.DateTime(data_key="lastAuthorizedAt", allow_none=True)
    last_refreshed_at = ma.fields.DateTime(data_key="lastRefreshedAt", allow_none=True)
    last_used_at = ma.fields.DateTime(data_key="lastUsedAt", allow_none=True)
    last_error = ma.fields.Dict(data_key="lastError", allow_none=True, metadata={
        "description": "code and message of the last failure (never a secret)"})
    account = ma.fields.Method("_account", metadata={
        "description": "email, displayName, accountId"})
    created_at = ma.fields.DateTime(data_key="createdAt")
    updated_at = ma.fields.DateTime(data_key="updatedAt")

    def __init__(self, *args, as_caller: bool = True, **kwargs):
        """``as_caller=False``: without the links and forms that act on the caller's own
        connection (event payloads have no caller)."""
        super().__init__(*args, **kwargs)
        self.as_caller = as_caller

    def _credentials(self, state):
        if isinstance(state, connections.Ready):
            return state.credentials
        return connect_rules.credentials_used(state.integration, state)

    def _account(self, state):
        return ma.missing if isinstance(state, connections.Ready) else account_of(state)

    def _callers(self, connection) -> bool:
        """The caller's own (or the shared) connection: the one their calls use, which the
        account, connect, refresh and disconnect addresses act on."""
        return self.as_caller and connections.is_callers(connection, connection.integration,
                                                         current_user())

    def _changeable(self, connection) -> bool:
        integration = connection.integration
        return (self._callers(connection)
                and caller_access(integration) >= connect_rules.connect_level(integration))

    def hal_links(self, connection):
        key = connection.integration_id
        if isinstance(connection, connections.Ready):
            return _ready_links(connection)
        links = {
            "self": {"href": href("connections.ListedConnection", integration_id=key,
                                  connection_id=connection.id)},
            "inf:integration": {"href": href("integrations.Integration", integration_id=key)},
        }
        if self._callers(connection):
            links["inf:account"] = {"href": href("connections.Account", integration_id=key)}
        if self._changeable(connection):
            if connect_rules.may_connect(connection.integration):
                links["inf:connect"] = {"href": href("connections.Connect", integration_id=key)}
            if connect_rules.uses_oauth(connection.integration):
                links["inf:refresh"] = {"href": href("connections.Refresh", integration_id=key)}
        return links

    def hal_templates(self, connection):
        """Disconnect, and refresh OAuth2 tokens: on the caller's own connection, with the
        access connecting needs; someone else's, listed for the owner, offers nothing, and
        neither does a state without a connection."""
        if isinstance(connection, connections.Ready) or not self._changeable(connection):
            return {}
        integration = connection.integration
        key = connection.integration_id
        found = {"delete": template("DELETE", href("connections.Connection", integration_id=key),
                                    title="Disconnect (revokes the tokens at the provider)")}
        if connect_rules.uses_oauth(integration):
            found["refresh"] = template("POST", href("connections.Refresh", integration_id=key),
                                        title="Refresh the OAuth2 token now")
        return found


def _ready_links(ready) -> dict:
    """Nothing stored: the state is read where it is, and connecting is offered where the
    caller may connect (a key of their own, or the shared account) all the same."""
    key = ready.integration_id
    links = {"self": {"href": href("connections.Connection", integration_id=key)},
             "inf:integration": {"href": href("integrations.Integration", integration_id=key)}}
    if connect_rules.may_connect(ready.integration):
        links["inf:connect"] = {"href": href("connections.Connect", integration_id=key)}
    return links


class ConnectArgsSchema(ma.Schema):
    return_to = ma.fields.String(data_key="returnTo", metadata={
        "description": "Where the browser goes afterwards: a path on the hub or an origin "
                       "from HUB_ALLOWED_RETURN_ORIGINS"})
    popup = ma.fields.Boolean(load_default=False, metadata={
        "description": "Finish on a page that posts the result to window.opener"})


class ConnectBodySchema(ma.Schema):
    """What each auth type hands over (only the fields of the integration's type).

    oauth2: ``code`` (+ ``codeVerifier``, ``redirectUri``), or ``refreshToken``, or
    ``accessToken`` (+ ``refreshToken``, ``expiresIn``); apikey: ``apiKey``; bearer:
    ``token``; basic and databases: ``username`` + ``password``.
    """

    code = ma.fields.String(load_only=True)
    codeVerifier = ma.fields.String(load_only=True)  # noqa: N815 (API field names)
    redirectUri = ma.fields.String(load_only=True, metadata={"secret": False})  # noqa: N815
    refreshToken = ma.fields.String(load_only=True)  # noqa: N815
    accessToken = ma.fields.String(load_only=True)  # noqa: N815
    expiresIn = ma.fields.Integer(load_only=True, validate=ma.validate.Range(min=0))  # noqa: N815
    apiKey = ma.fields.String(load_only=True)  # noqa: N815
    token = ma.fields.String(load_only=True)
    username = ma.fields.String(load_only=True, metadata={"secret": False})
    password = ma.fields.String(load_only=True)


class AccountArgsSchema(ma.Schema):
    refresh = ma.fields.Boolean(load_default=False)


ConnectionPageSchema = page_schema(ConnectionSchema, "inf:connection", "ConnectionPage")
