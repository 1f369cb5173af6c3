"""Whether an integration has anything to connect, who may connect it, what the caller's
calls send, and the failures a (new) connection would cure.

docs/api-conventions.md, "The caller's connection": links, forms and problems offer
``inf:connect`` exactly where ``may_connect`` holds.
"""

from __future__ import annotations

from typing import Any

from integration_hub import errors
from integration_hub.databases.dialects import DATABASE as DATABASE_CATEGORY
from integration_hub.db.models import Connection, Integration
from integration_hub.integrations.acl import Access, caller_access
from integration_hub.integrations.store import usable_without_connection
from integration_hub.oauth import rules as oauth_rules

# What the caller's calls send (a connection's ``credentials``).
NO_CREDENTIALS = "none"  # authType none: nothing at all
INTEGRATION_CREDENTIALS = "integration"  # the integration's own key, token or login
CONNECTION_CREDENTIALS = "connection"  # the caller's connection, or the shared one


def connect_level(integration: Integration) -> Access:
    """Connecting (or disconnecting) a shared-mode integration changes it for everyone."""
    return Access.WRITE if integration.mode == "shared" else Access.READ


def uses_oauth(integration: Integration) -> bool:
    """Connected through an OAuth2 authorization server (databases take passwords)."""
    return integration.auth_type == "oauth2" and integration.category != DATABASE_CATEGORY


def nothing_to_connect(integration: Integration) -> bool:
    """authType none: calls send no credentials, so no connection could hold any. Not so
    for a database, whatever its authType: it takes a username and password."""
    return integration.auth_type == "none" and integration.category != DATABASE_CATEGORY


def needs_setup(integration: Integration) -> bool:
    """An OAuth2 integration whose client id is not set (or still the placeholder): no
    browser can be sent to the provider until an administrator sets it up."""
    return uses_oauth(integration) and oauth_rules.client_id_unset(integration.client_id)


def may_connect(integration: Integration, access: Access | None = None) -> bool:
    """Whether connecting is offered to a caller with ``access`` (by default the access
    the integration was loaded with for the caller): not where there is nothing to
    connect, nor while the integration needs setup."""
    access = caller_access(integration) if access is None else access
    return (not nothing_to_connect(integration) and not needs_setup(integration)
            and access >= connect_level(integration))


def credentials_used(integration: Integration, connection: Connection | None) -> str | None:
    """What the caller's calls send, given their connection (their own or the shared one,
    None without): one of the constants above, or None when they need a connection that
    they lack (or that holds nothing usable)."""
    if nothing_to_connect(integration):
        return NO_CREDENTIALS
    shared_database = integration.category == DATABASE_CATEGORY and integration.mode == "shared"
    held = None if connection is None or shared_database else (
        connection.access_token_encrypted if uses_oauth(integration)
        else connection.credentials_encrypted)
    if held is not None:
        return CONNECTION_CREDENTIALS
    return INTEGRATION_CREDENTIALS if usable_without_connection(integration) else None


def require_something_to_connect(integration: Integration) -> None:
    if nothing_to_connect(integration):
        raise NothingToConnect("this integration's calls send no credentials: there is "
                               "nothing to connect, and calls work as they are")


class CuredByConnecting(errors.HubError):
    """A failure that a (new) connection would cure: its answer links ``inf:connect`` when
    the caller may connect ``integration`` (the app adds the link)."""

    def __init__(self, detail: str | None = None, *, integration: Integration,
                 **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.connect_link = may_connect(integration)


class NotConnected(CuredByConnecting, errors.Conflict):
    """An action needs a connection the caller lacks: 409. Reading the connection itself
    answers the same problem as 404 (``NoConnection``)."""

    code, title = "integration_not_connected", "You have no usable connection to this integration"


class NoConnection(NotConnected):
    status = 404


class ReauthRequired(CuredByConnecting, errors.Conflict):
    code, title = "connection_reauth_required", "The connection must be authorised again"


class NothingToConnect(errors.Conflict):
    code, title = "nothing_to_connect", "This integration needs no connection"


class IntegrationDisabled(errors.Conflict):
    code, title = "integration_disabled", "The integration is disabled"
