"""The browser OAuth2 authorization-code flow: start (redirect to the provider)
and finish (the callback), with every check done before any token request."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.db.models import Connection, Integration, OAuthState, User
from integration_hub.db.session import writing
from integration_hub.db.types import utcnow
from integration_hub.services import connections, crypto, oauth_client, oauth_rules
from integration_hub.services.integrations import Found


class NotOAuth(errors.Conflict):
    code, title = "connect_needs_credentials", "This integration connects with credentials"
    connect_link = True  # to the POST form of the same address


class InvalidReturnTo(errors.ValidationFailed):
    code = "invalid_return_to"


@dataclass(frozen=True)
class CallbackResult:
    ok: bool
    code: str  # "connected" or an error code
    message: str
    integration: Integration | None = None
    connection: Connection | None = None
    return_to: str | None = None
    popup: bool = False


def start(session: Session, user: User, found: Found, *, redirect_uri: str, hub_origin: str,
          allowed_origins: tuple[str, ...], return_to: str | None, popup: bool) -> str:
    """Record a one-time state and answer the provider's authorization URL."""
    integration = found.integration
    connections.require_connectable(found)
    if integration.auth_type != "oauth2":
        raise NotOAuth(f"{integration.auth_type} integrations connect with POST .../connect")
    try:
        target = oauth_rules.safe_return_to(return_to, hub_origin, allowed_origins)
    except ValueError as exc:
        raise InvalidReturnTo(str(exc), errors={"returnTo": [str(exc)]}) from None
    state = oauth_rules.new_state()
    use_pkce = (integration.data or {}).get("pkce", True) is not False
    verifier = oauth_rules.new_code_verifier() if use_pkce else None
    now = utcnow()
    session.add(OAuthState(
        state_hash=oauth_rules.state_digest(state), integration_id=integration.id,
        user_id=user.id, code_verifier_encrypted=crypto.encrypt(verifier),
        redirect_uri=redirect_uri, return_to=target, popup=popup,
        created_at=now, expires_at=now + oauth_rules.STATE_LIFETIME))
    session.flush()
    return oauth_rules.authorize_url(
        integration.auth_uri, client_id=integration.client_id, redirect_uri=redirect_uri,
        state=state, scope=integration.scope,
        challenge=oauth_rules.code_challenge(verifier) if verifier else None,
        extra=(integration.data or {}).get("authParams"))


def _fail(code: str, message: str, pending: OAuthState | None = None,
          integration: Integration | None = None) -> CallbackResult:
    return CallbackResult(False, code, message, integration,
                          return_to=pending.return_to if pending else None,
                          popup=bool(pending and pending.popup))


def finish(session: Session, params: dict[str, str], session_user: User | None) -> CallbackResult:
    """Check everything about the callback, then exchange the code and store the connection."""
    state = params.get("state")
    if not state:
        return _fail("state_missing", "The provider's answer carries no state.")
    pending = session.get(OAuthState, oauth_rules.state_digest(state))
    if pending is None:
        return _fail("state_unknown", "This sign-in was not started here, or it was already removed.")
    integration = session.get(Integration, pending.integration_id)
    if pending.used_at is not None:
        return _fail("state_reused", "This sign-in has already been completed.", pending, integration)
    now = utcnow()
    if pending.expires_at <= now:
        return _fail("state_expired", "This sign-in took longer than 10 minutes; start again.",
                     pending, integration)
    if session_user is not None and session_user.id != pending.user_id:
        return _fail("state_user_mismatch", "This sign-in was started by another user.",
                     pending, integration)
    # Use the state exactly once, even if the callback arrives twice at once.
    with writing(session):
        claimed = session.execute(update(OAuthState).where(
            OAuthState.state_hash == pending.state_hash, OAuthState.used_at.is_(None))
            .values(used_at=now)).rowcount
    if claimed != 1:
        return _fail("state_reused", "This sign-in has already been completed.", pending, integration)
    if params.get("error"):
        return _fail("provider_error", f"The provider refused: {params['error']}"
                     + (f" ({params['error_description'][:200]})"
                        if params.get("error_description") else ""), pending, integration)
    expected_issuer = (integration.data or {}).get("issuer") or oauth_rules.origin(integration.auth_uri)
    if params.get("iss") and params["iss"].rstrip("/") != expected_issuer.rstrip("/"):
        return _fail("issuer_mismatch", "The answer came from another authorization server.",
                     pending, integration)
    if not params.get("code"):
        return _fail("code_missing", "The provider's answer carries no code.", pending, integration)
    user = session.get(User, pending.user_id)
    if not integration.enabled or user is None or not user.enabled:
        return _fail("integration_disabled", "The integration or your user is disabled.",
                     pending, integration)
    try:  # network calls outside any write transaction
        token = oauth_client.exchange_code(integration, params["code"], pending.redirect_uri,
                                           crypto.decrypt(pending.code_verifier_encrypted))
        account = connections.read_account(integration, token)
        with writing(session):
            connection = connections.store_token(session, user, integration, token, now)
            if account is not None:
                connection.account = account
    except oauth_client.TokenEndpointError as failure:
        return _fail("token_exchange_failed", f"The provider did not issue a token ({failure.error}).",
                     pending, integration)
    return CallbackResult(True, "connected", "Connected.", integration, connection,
                          pending.return_to, pending.popup)

