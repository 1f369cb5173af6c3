"""A call plan: what every call of one principal to one integration has in common — the
connection, its credentials and where they go, the headers expanded from the caller's
identity, the base URL and the timeouts. Built from the database by ``plan_call``; the
request proxy's per-process cache keeps it between calls (proxy/call_cache.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import urllib3
from sqlalchemy.orm import Session

from integration_hub import crypto, errors
from integration_hub.config import Settings
from integration_hub.connections import connect_rules
from integration_hub.connections import store as connections
from integration_hub.db.models import Connection, Integration, Tenant, User
from integration_hub.integrations.credential_destinations import Origin, credential_origins
from integration_hub.integrations.store import Found
from integration_hub.oauth import refresh as token_refresh
from integration_hub.proxy import header_templates, rate_limits
from integration_hub.proxy.credentials import CredentialPlacement, place_credentials


class NoBaseUrl(errors.Conflict):
    code, title = "integration_has_no_base_url", "The integration has no apiBaseUri"


@dataclass(frozen=True)
class CallPlan:
    integration_id: str
    auth_type: str
    username: str
    connection_id: str | None
    base: str                                  # apiBaseUri, expanded
    headers: dict[str, str]                    # the integration's headers, expanded
    placement: CredentialPlacement             # the credentials and where they go
    allowed_hosts: tuple[str, ...]
    credential_origins: frozenset[Origin]
    forward_headers: tuple[str, ...]           # the caller's headers data.forwardHeaders adds
    read_timeout: float
    timeout: urllib3.Timeout                   # connect, and each read of a streamed body
    rate_limited: bool                         # data.rateLimit: every call is counted
    token_expires_at: datetime | None          # the OAuth access token's, less the skew


def _secrets(session: Session, user: User, integration: Integration,
             skew: timedelta) -> tuple[Connection | None, dict[str, str | None]]:
    """The connection to use and the secrets it gives."""
    if integration.auth_type == "oauth2":
        connection = token_refresh.usable_token_connection(session, user, integration, skew)
        return connection, {"access_token": connections.access_token_of(connection),
                            "token_type": connection.token_type}
    connection = connections.connection_of(session, user, integration)
    own = connections.credentials_of(connection)
    if integration.auth_type in ("apikey", "bearer"):
        key = own.get("api_key") or crypto.decrypt(integration.api_key_encrypted)
        return connection, {"api_key": key}
    if integration.auth_type == "basic":
        if own.get("username") is not None:
            return connection, {"username": own["username"], "password": own.get("password")}
        return connection, {"username": integration.client_id,
                            "password": crypto.decrypt(integration.client_secret_encrypted)}
    return connection, {}


def plan_call(session: Session, user: User, tenant: Tenant, found: Found,
              settings: Settings) -> CallPlan:
    """The plan of ``user``'s calls to the integration found (its access already checked):
    refreshes an OAuth token about to expire; 409 when there are no credentials to send
    or no base URL to send to."""
    integration = found.integration
    skew = timedelta(seconds=settings.token_refresh_skew)
    connection, secrets = _secrets(session, user, integration, skew)
    placement = place_credentials(integration.auth_type,
                                  api_key_location=integration.api_key_location,
                                  api_key_name=integration.api_key_name, secrets=secrets)
    if placement is None:
        raise connect_rules.NotConnected("connect your own credentials first; the integration "
                                         "has none to share", integration=integration)
    variables = header_templates.template_variables(
        username=user.username, display_name=user.display_name, email=user.email,
        user_fields=user.fields or {}, tenant_id=tenant.id, tenant_name=tenant.name,
        tenant_settings=tenant.settings or {},
        connection_fields=connections.token_fields_of(connection),
        account=connection.account if connection else None)
    if not integration.api_base_uri:
        raise NoBaseUrl("set apiBaseUri on the integration before calling it")
    base = header_templates.expand(integration.api_base_uri, variables)
    data = integration.data or {}
    read_timeout = min(float(data.get("timeout") or settings.proxy_read_timeout),
                       settings.proxy_max_timeout)
    expires = connection.token_expires_at if connection is not None and \
        integration.auth_type == "oauth2" else None
    return CallPlan(
        integration_id=integration.id, auth_type=integration.auth_type,
        username=user.username, connection_id=connection.id if connection else None,
        base=base, headers=header_templates.expand_headers(integration.headers or {}, variables),
        placement=placement, allowed_hosts=tuple(str(h) for h in data.get("allowedHosts") or []),
        credential_origins=credential_origins(data.get("credentialOrigins")),
        forward_headers=tuple(data.get("forwardHeaders") or ()), read_timeout=read_timeout,
        timeout=urllib3.Timeout(connect=settings.proxy_connect_timeout, read=read_timeout),
        rate_limited=any(rate_limits.limits_of(data)[:2]),
        token_expires_at=None if expires is None else expires - skew)
