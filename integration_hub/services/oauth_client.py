"""Talking to an integration's authorization server (Authlib), with timeouts and
one typed error per way it can fail. Token values never appear in errors."""

from __future__ import annotations

import logging
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session

from integration_hub.db.models import Integration
from integration_hub.services import crypto

log = logging.getLogger(__name__)
TIMEOUT = (10, 30)  # connect, read (seconds)


class TokenEndpointError(Exception):
    """The authorization server refused or could not be reached."""

    def __init__(self, kind: str, error: str, description: str | None = None) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.kind = kind  # "invalid_grant" | "rejected" | "unavailable" | "timeout"
        self.error = error
        self.description = (description or "")[:300]


def _classify(response: requests.Response) -> requests.Response:
    """Compliance hook: a server error or throttling is transient, not a refusal."""
    if response.status_code >= 500 or response.status_code == 429:
        raise TokenEndpointError("unavailable", f"token_endpoint_http_{response.status_code}",
                                 "the authorization server answered with an error")
    return response


def _session(integration: Integration, redirect_uri: str | None = None) -> OAuth2Session:
    session = OAuth2Session(
        client_id=integration.client_id,
        client_secret=crypto.decrypt(integration.client_secret_encrypted),
        token_endpoint_auth_method=("client_secret_basic" if integration.basic_token_auth
                                    else "client_secret_post"),
        revocation_endpoint_auth_method=("client_secret_basic" if integration.basic_token_auth
                                         else "client_secret_post"),
        redirect_uri=redirect_uri,
    )
    session.register_compliance_hook("access_token_response", _classify)
    session.register_compliance_hook("refresh_token_response", _classify)
    return session


def _call(action, *args, **kwargs) -> dict[str, Any]:
    try:
        return dict(action(*args, timeout=TIMEOUT, **kwargs))
    except TokenEndpointError:
        raise
    except requests.Timeout:
        raise TokenEndpointError("timeout", "token_endpoint_timeout",
                                 "the authorization server did not answer in time") from None
    except requests.RequestException:
        raise TokenEndpointError("unavailable", "token_endpoint_unreachable",
                                 "the authorization server could not be reached") from None
    except AuthlibBaseError as exc:
        kind = "invalid_grant" if exc.error == "invalid_grant" else "rejected"
        raise TokenEndpointError(kind, exc.error or "token_request_rejected",
                                 exc.description) from None
    except ValueError:  # not a JSON token answer
        raise TokenEndpointError("rejected", "token_response_invalid",
                                 "the token endpoint answered with something else than a token") from None


def exchange_code(integration: Integration, code: str, redirect_uri: str,
                  code_verifier: str | None) -> dict[str, Any]:
    session = _session(integration, redirect_uri)
    extra = {"code_verifier": code_verifier} if code_verifier else {}
    return _call(session.fetch_token, integration.token_uri, grant_type="authorization_code",
                 code=code, redirect_uri=redirect_uri, **extra)


def refresh(integration: Integration, refresh_token: str) -> dict[str, Any]:
    session = _session(integration)
    return _call(session.refresh_token, integration.token_uri, refresh_token=refresh_token)


def revoke(integration: Integration, token: str, hint: str) -> bool:
    """RFC 7009, best effort: True when the server confirmed."""
    if not integration.revocation_uri:
        return False
    try:
        response = _session(integration).revoke_token(
            integration.revocation_uri, token=token, token_type_hint=hint, timeout=TIMEOUT)
        return response.status_code == 200
    except (requests.RequestException, AuthlibBaseError, TokenEndpointError):
        log.warning("token revocation at %s failed", integration.revocation_uri)
        return False


def userinfo(integration: Integration, access_token: str, token_type: str | None) -> dict | None:
    """The connected account's profile from ``userInfoUri``, or None (best effort)."""
    if not integration.user_info_uri:
        return None
    headers = {"Authorization": f"{_scheme(token_type)} {access_token}",
               "Accept": "application/json"}
    headers.update({k: v for k, v in (integration.headers or {}).items() if "${" not in v})
    try:
        response = requests.get(integration.user_info_uri, headers=headers, timeout=TIMEOUT)
        if response.ok:
            body = response.json()
            return body if isinstance(body, dict) else None
    except (requests.RequestException, ValueError):
        pass
    log.warning("reading the account from %s failed", integration.user_info_uri)
    return None


def _scheme(token_type: str | None) -> str:
    return "Bearer" if not token_type or token_type.lower() == "bearer" else token_type
