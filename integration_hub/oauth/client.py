"""Talking to an integration's authorization server (Authlib), with timeouts and
one typed error per way it can fail. Token values never appear in errors.

Every call goes through ``outbound_requests``: the proxy's outbound network policy, no
redirects, a timeout and a cap on the answer's size (docs/security.md, "Outbound
connections")."""

from __future__ import annotations

import json
import logging
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session

from integration_hub import crypto, errors, json_body
from integration_hub.config import current_settings
from integration_hub.db.models import Integration
from integration_hub.oauth import rules as oauth_rules
from integration_hub.outbound import sessions as outbound_requests

log = logging.getLogger(__name__)
TIMEOUT = outbound_requests.TIMEOUT


class TokenEndpointFailed(errors.HubError):
    status, code, title = 502, "token_endpoint_failed", "The authorization server failed"


class TokenEndpointTimeout(errors.HubError):
    status, code, title = 504, "token_endpoint_timeout", "The authorization server did not answer"


class TokenEndpointError(Exception):
    """The authorization server refused, could not be reached or answered no token."""

    def __init__(self, kind: str, error: str, description: str | None = None) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        # "invalid_grant" | "rejected": the server refused the grant or the client;
        # "unavailable" | "timeout": it failed or did not answer; "malformed": its answer is
        # not a token; "denied": the outbound policy refused its address, nothing was sent.
        self.kind = kind
        self.error = error
        self.description = (description or "")[:300]


class _OAuthSession(outbound_requests.OutboundSession, OAuth2Session):
    """Authlib's client on the outbound policy's transport."""


def _checked(response: requests.Response) -> requests.Response:
    """Compliance hook, before Authlib reads the answer: a redirect, a server error or
    throttling is the server's failure; a success must be a usable token, and its lifetimes
    numbers Authlib can convert (the hub clamps them, ``oauth_rules.expiry``)."""
    status = response.status_code
    if 300 <= status < 400:
        raise TokenEndpointError("unavailable", "token_endpoint_redirected",
                                 f"the authorization server answered {status}; the hub "
                                 "does not follow redirects of token requests")
    if status >= 500 or status == 429:
        raise TokenEndpointError("unavailable", f"token_endpoint_http_{status}",
                                 "the authorization server answered with an error")
    try:  # read flat first: Authlib parses it again, and a deep answer exhausts the stack
        document = json_body.loads(response.content)
    except json_body.TooDeep:
        raise TokenEndpointError("malformed", "token_response_invalid",
                                 "the token endpoint's answer is nested too deeply") from None
    except ValueError:  # not JSON, or not text
        raise TokenEndpointError("malformed", "token_response_invalid",
                                 "the token endpoint did not answer JSON") from None
    if isinstance(document, dict) and "error" in document:
        return response  # an OAuth error: Authlib raises it
    problem = (oauth_rules.token_answer_problem(document) if 200 <= status < 300
               else f"it answered {status} without an OAuth error")
    if problem:
        raise TokenEndpointError("malformed", "token_response_invalid",
                                 f"the token endpoint's answer is not a token: {problem}")
    bounded = oauth_rules.bounded_lifetimes(document) if isinstance(document, dict) else None
    if bounded is not None:
        response._content = json.dumps(bounded).encode()
    return response


def _session(integration: Integration, redirect_uri: str | None = None) -> OAuth2Session:
    auth_method = "client_secret_basic" if integration.basic_token_auth else "client_secret_post"
    session = _OAuthSession(
        client_id=integration.client_id,
        client_secret=crypto.decrypt(integration.client_secret_encrypted),
        token_endpoint_auth_method=auth_method,
        revocation_endpoint_auth_method=auth_method,
        redirect_uri=redirect_uri,
    )
    session.follow_policy(current_settings().proxy_deny_private)
    session.register_compliance_hook("access_token_response", _checked)
    session.register_compliance_hook("refresh_token_response", _checked)
    return session


def _call(action, *args, **kwargs) -> dict[str, Any]:
    try:
        return dict(action(*args, timeout=TIMEOUT, **kwargs))
    except TokenEndpointError:
        raise
    except outbound_requests.AddressDenied:
        raise TokenEndpointError("denied", "token_endpoint_address_denied",
                                 "the authorization server's address is private, loopback "
                                 "or link-local, and HUB_PROXY_DENY_PRIVATE is on") from None
    except outbound_requests.AnswerTooLarge:
        raise TokenEndpointError("malformed", "token_response_invalid",
                                 "the token endpoint's answer is too large") from None
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
    except (TypeError, ValueError):  # a token answer Authlib cannot take apart
        raise TokenEndpointError("malformed", "token_response_invalid",
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


def revoke(integration: Integration, token: str, hint: str, timeout=TIMEOUT) -> bool:
    """RFC 7009, best effort: True when the server confirmed."""
    if not integration.revocation_uri:
        return False
    try:
        response = _session(integration).revoke_token(
            integration.revocation_uri, token=token, token_type_hint=hint, timeout=timeout)
        if response.status_code == 200:
            return True
    except (requests.RequestException, AuthlibBaseError, TokenEndpointError):
        pass
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
        response = outbound_requests.session(current_settings().proxy_deny_private).get(
            integration.user_info_uri, headers=headers, timeout=TIMEOUT)
        if 200 <= response.status_code < 300:
            body = json_body.loads(response.content)  # TooDeep is a ValueError
            return body if isinstance(body, dict) else None
    except (requests.RequestException, ValueError):
        pass
    log.warning("reading the account from %s failed", integration.user_info_uri)
    return None


def _scheme(token_type: str | None) -> str:
    return "Bearer" if not token_type or token_type.lower() == "bearer" else token_type
