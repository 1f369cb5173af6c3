"""Connecting without a browser (``POST .../connect``): the caller hands over what the
integration's auth type takes (an OAuth2 code or tokens, an API key, a bearer token, a
username and password), checked before anything is stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import urllib3
from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.audit.entries import Actor
from integration_hub.config import current_settings
from integration_hub.connections.connect_rules import (
    DATABASE_CATEGORY,
    require_something_to_connect,
    uses_oauth,
)
from integration_hub.connections.store import (
    read_account,
    require_connectable,
    store_credentials,
    store_token,
)
from integration_hub.db.models import Connection, Integration
from integration_hub.db.session import end_transaction, writing
from integration_hub.db.types import utcnow
from integration_hub.integrations.store import Found
from integration_hub.oauth import client as oauth_client
from integration_hub.outbound import upstream_http
from integration_hub.proxy import url_guard as proxy_url
from integration_hub.proxy.credentials import place_credentials


class CredentialsRejected(errors.ValidationFailed):
    code, title = "credentials_rejected", "The integration refused these credentials"


def connect_with(session: Session, actor: Actor, found: Found, body: Mapping[str, Any], *,
                 callback_uri: str) -> Connection:
    """``POST .../connect``: hand over a code, token, key or password (per auth type).

    What the hub asks other servers (the token endpoint, the account, the health check)
    it asks with no transaction open; the connection is then written in one short one.
    """
    integration = found.integration
    require_connectable(found)
    require_something_to_connect(integration)
    end_transaction(session)
    fields = _required_fields(integration)
    if uses_oauth(integration):
        return _connect_oauth(session, actor, integration, body, callback_uri)
    missing = [name for name in fields if not body.get(name)]
    unknown = [name for name in body if name not in fields and body.get(name) is not None]
    if missing or unknown:  # (authType none was refused above: fields is never empty)
        problems = {name: ["Missing data for required field."] for name in missing}
        problems.update({name: [f"not used by {integration.auth_type} integrations"]
                         for name in unknown})
        raise errors.ValidationFailed(
            f"{integration.auth_type} integrations connect with {', '.join(fields)}",
            errors=problems)
    secrets = {"apiKey": "api_key", "token": "api_key", "username": "username",
               "password": "password"}
    stored = {secrets[name]: str(body[name]) for name in fields if name in body}
    _check_health(integration, stored)
    with writing(session):
        return store_credentials(session, actor, integration, stored)


def fields_to_connect(integration: Integration) -> list[str]:
    """What a user hands over to connect (empty for OAuth2 redirects and ``none``)."""
    if uses_oauth(integration):
        return []
    return _required_fields(integration)


def _required_fields(integration: Integration) -> list[str]:
    if integration.category == DATABASE_CATEGORY:
        return ["username", "password"]
    return {"apikey": ["apiKey"], "bearer": ["token"], "basic": ["username", "password"],
            "oauth2": [], "none": []}[integration.auth_type]


def _connect_oauth(session: Session, actor: Actor, integration: Integration,
                   body: Mapping[str, Any], callback_uri: str) -> Connection:
    now = utcnow()
    if body.get("code"):
        token = _token_call(oauth_client.exchange_code, integration, body["code"],
                            body.get("redirectUri") or callback_uri, body.get("codeVerifier"))
    elif body.get("accessToken"):
        token = {"access_token": body["accessToken"], "token_type": "Bearer"}
        if body.get("refreshToken"):
            token["refresh_token"] = body["refreshToken"]
        if body.get("expiresIn") is not None:
            token["expires_in"] = body["expiresIn"]
    elif body.get("refreshToken"):
        token = _token_call(oauth_client.refresh, integration, body["refreshToken"])
        token.setdefault("refresh_token", body["refreshToken"])
    else:
        raise errors.ValidationFailed(
            "oauth2 integrations connect with code, refreshToken or accessToken",
            errors={"code": ["give code, refreshToken or accessToken"]})
    account = read_account(integration, token)
    with writing(session):
        connection = store_token(session, actor, integration, token, now)
        if account is not None:
            connection.account = account
    return connection


def _token_call(call, *args) -> dict[str, Any]:
    try:
        return call(*args)
    except oauth_client.TokenEndpointError as failure:
        if failure.kind in ("invalid_grant", "rejected"):
            raise CredentialsRejected(f"the authorization server refused: {failure.error}",
                                      errors={"code": [failure.error]}) from None
        if failure.kind == "timeout":
            raise oauth_client.TokenEndpointTimeout(failure.description) from None
        if failure.kind == "denied":
            raise upstream_http.UpstreamAddressDenied(failure.description) from None
        raise oauth_client.TokenEndpointFailed(failure.description) from None


def _check_health(integration: Integration, secrets: Mapping[str, str]) -> None:
    """Try the credentials on ``data.healthCheck`` (a GET path) before storing them.

    The same URL guard and outbound network policy as the proxy apply.
    """
    path = (integration.data or {}).get("healthCheck")
    if not path or not integration.api_base_uri or "${" in integration.api_base_uri:
        return
    placement = place_credentials(integration.auth_type,
                                  api_key_location=integration.api_key_location,
                                  api_key_name=integration.api_key_name, secrets=secrets)
    url = proxy_url.build_upstream_url(integration.api_base_uri, str(path),
                                       query=placement.params or None)
    settings = current_settings()
    try:
        answer = upstream_http.shared_pool(settings.proxy_deny_private).request(
            "GET", url, headers=placement.headers, redirect=False, retries=False,
            timeout=urllib3.Timeout(connect=settings.proxy_connect_timeout,
                                    read=settings.proxy_read_timeout))
    except urllib3.exceptions.HTTPError as failure:
        raise upstream_http.transport_error(failure) from None
    if not 200 <= answer.status < 300:
        raise CredentialsRejected(
            f"the integration answered {answer.status} to its health check",
            errors={"credentials": [f"health check answered {answer.status}"]})
