"""The browser OAuth2 authorization-code flow: start (redirect to the provider), the
one-time start address of flows started with an API token, and finish (the callback),
with every check done before any token request.

A flow completes only in the browser that started it: the start binds the flow to a
cookie it sets in that browser, and the callback refuses, connecting nothing, without it.
A program holding an API token has no browser of the user's at hand: its start answers a
one-time address on the hub instead, which continues only in a browser signed in to the
hub as the same user (docs/security.md, "The OAuth callback and the browser that started
the flow").
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from integration_hub import crypto, errors
from integration_hub.audit.entries import Actor
from integration_hub.config import current_settings
from integration_hub.connections import connect_rules
from integration_hub.connections import store as connections
from integration_hub.db.models import Connection, Integration, OAuthState, User
from integration_hub.db.session import end_transaction, transaction, writing
from integration_hub.db.types import utcnow
from integration_hub.integrations import store as integrations
from integration_hub.integrations.store import Found
from integration_hub.oauth import client as oauth_client
from integration_hub.oauth import rules as oauth_rules


class NotOAuth(errors.Conflict):
    code, title = "connect_needs_credentials", "This integration connects with credentials"
    connect_link = True  # to the POST form of the same address


class NeedsSetup(errors.Conflict):
    code, title = "integration_needs_setup", "The integration needs setup by an administrator"


class InvalidReturnTo(errors.ValidationFailed):
    code = "invalid_return_to"


class StartUnknown(errors.HubError):
    status, code = 400, "oauth_start_unknown"
    title = "This address to start connecting is unknown or was already used"


class StartExpired(errors.HubError):
    status, code = 400, "oauth_start_expired"
    title = "This address to start connecting has expired (after 10 minutes); start again"


class StartOfOtherUser(errors.Forbidden):
    code = "oauth_start_other_user"
    title = ("This address to start connecting belongs to another user of the hub: "
             "it connects nothing of yours")


class SignInFirst(Exception):
    """A start address continues only in a browser signed in to the hub."""


@dataclass(frozen=True)
class Binding:
    """The cookie to set in the browser that starts the flow."""

    cookie_name: str
    value: str


@dataclass(frozen=True)
class Started:
    """Where the browser goes next: the provider's ``authorize_url`` with ``binding`` set,
    or (a start with an API token) the hub's one-time start address naming ``start_nonce``."""

    authorize_url: str | None = None
    binding: Binding | None = None
    start_nonce: str | None = None


@dataclass(frozen=True)
class CallbackResult:
    ok: bool
    code: str  # "connected" or an error code
    message: str
    integration: Integration | None = None
    connection: Connection | None = None
    return_to: str | None = None
    popup: bool = False


def start(actor: Actor, integration_id: str, *, in_browser: bool, redirect_uri: str,
          hub_origin: str, return_to: str | None, popup: bool) -> Started:
    """Record a one-time flow. ``in_browser`` (the request came with the browser's session):
    bind it to that browser and answer the provider's authorization URL; otherwise answer
    the nonce of its one-time start address, for a browser to open later."""
    with transaction() as session:
        found = integrations.find(session, actor.user, integration_id)
        return _start(session, actor.user, found, in_browser, redirect_uri, hub_origin,
                      return_to, popup)


def _start(session: Session, user: User, found: Found, in_browser: bool, redirect_uri: str,
           hub_origin: str, return_to: str | None, popup: bool) -> Started:
    integration = found.integration
    _require_oauth(found)
    allowed_origins = current_settings().allowed_return_origins
    try:
        target = oauth_rules.safe_return_to(return_to, hub_origin, allowed_origins)
    except ValueError as exc:
        raise InvalidReturnTo(str(exc), errors={"returnTo": [str(exc)]}) from None
    secret = oauth_rules.new_state()  # the state, or the start address's nonce
    use_pkce = (integration.data or {}).get("pkce", True) is not False
    verifier = oauth_rules.new_code_verifier() if use_pkce else None
    now = utcnow()
    pending = OAuthState(
        state_hash=oauth_rules.state_digest(secret), integration_id=integration.id,
        user_id=user.id, code_verifier_encrypted=crypto.encrypt(verifier),
        redirect_uri=redirect_uri, return_to=target, popup=popup,
        created_at=now, expires_at=now + oauth_rules.STATE_LIFETIME)
    binding = None
    if in_browser:
        binding, pending.browser_hash = _new_binding(secret)
    session.add(pending)
    session.flush()
    if not in_browser:
        return Started(start_nonce=secret)
    return Started(_authorize_url(integration, secret, redirect_uri, verifier), binding)


def open_start(session: Session, nonce: str, user: User | None) -> Started:
    """A browser opened the one-time start address of a flow started with an API token.

    It goes on to the provider only signed in to the hub as the user who started the
    flow; then the flow gets its state and this browser's binding, and the address is
    spent. Anyone else it reaches (sent to them, or copied), signed in or not, starts
    nothing: were it enough to open the address, it would be the provider's address of
    before, one step later, and its opener's provider account would land in the
    starter's connection.
    """
    pending = session.get(OAuthState, oauth_rules.state_digest(nonce))
    if pending is None or pending.browser_hash is not None or pending.used_at is not None:
        raise StartUnknown()
    now = utcnow()
    if pending.expires_at <= now:
        raise StartExpired()
    if user is None:
        raise SignInFirst()
    if user.id != pending.user_id:
        raise StartOfOtherUser()
    found = integrations.find(session, user, pending.integration_id)
    _require_oauth(found)  # access, the integration and its auth type may have changed
    redirect_uri, verifier = pending.redirect_uri, crypto.decrypt(pending.code_verifier_encrypted)
    state = oauth_rules.new_state()
    binding, bound = _new_binding(state)
    session.expunge(pending)  # its key changes below
    with writing(session):  # spend the address and rename the flow after its state, at once
        claimed = session.execute(update(OAuthState).where(
            OAuthState.state_hash == oauth_rules.state_digest(nonce),
            OAuthState.browser_hash.is_(None), OAuthState.used_at.is_(None))
            .values(state_hash=oauth_rules.state_digest(state), browser_hash=bound,
                    expires_at=now + oauth_rules.STATE_LIFETIME)
            .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise StartUnknown()
    return Started(_authorize_url(found.integration, state, redirect_uri, verifier), binding)


def _require_oauth(found: Found) -> None:
    connections.require_connectable(found)
    connect_rules.require_something_to_connect(found.integration)
    if found.integration.auth_type != "oauth2":
        raise NotOAuth(f"{found.integration.auth_type} integrations connect with POST .../connect")
    if connect_rules.needs_setup(found.integration):
        raise NeedsSetup("its OAuth client id is not set yet: an administrator registers the "
                         "hub with the provider and sets the integration's clientId")


def _new_binding(state: str) -> tuple[Binding, str]:
    """The cookie for the browser starting the flow of ``state``, and its digest."""
    value = oauth_rules.new_state()
    return Binding(oauth_rules.flow_cookie_name(state), value), oauth_rules.state_digest(value)


def _authorize_url(integration: Integration, state: str, redirect_uri: str,
                   verifier: str | None) -> str:
    return oauth_rules.authorize_url(
        integration.auth_uri, client_id=integration.client_id, redirect_uri=redirect_uri,
        state=state, scope=integration.scope,
        challenge=oauth_rules.code_challenge(verifier) if verifier else None,
        extra=(integration.data or {}).get("authParams"))


def _foreign_browser(pending: OAuthState, session_user: User | None,
                     presented: str | None) -> tuple[str, str] | None:
    """Why this browser is not the one that started the flow (code, message), or None."""
    if session_user is not None and session_user.id != pending.user_id:
        return "state_user_mismatch", "This sign-in was started by another user."
    if not oauth_rules.binding_matches(pending.browser_hash, presented):
        return ("oauth_flow_not_this_browser",
                "This sign-in was started in another browser, and it completes only in the "
                "browser that started it. Nothing was connected. If you meant to connect, "
                "start again here.")
    return None


def _fail(code: str, message: str, pending: OAuthState | None = None,
          integration: Integration | None = None) -> CallbackResult:
    return CallbackResult(False, code, message, integration,
                          return_to=pending.return_to if pending else None,
                          popup=bool(pending and pending.popup))


def finish(session: Session, params: dict[str, str], session_user: User | None,
           presented: str | None, source_ip: str | None) -> CallbackResult:
    """Check everything about the callback, then exchange the code and store the connection.

    The flow's user connects, through the web (the callback is a page the provider sends
    the browser to), from ``source_ip``; that user acts, not whoever may be signed in.
    ``presented``: the flow's cookie as this browser sent it. A browser that is not the
    flow's (another user's session, no cookie or a wrong one) is refused before any token
    request and is not sent to the flow's ``returnTo``. It spends the flow all the same:
    the code it carries is the consent of whoever sits at that browser, and carried to
    the starter's browser it must not connect either.
    """
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
    foreign = _foreign_browser(pending, session_user, presented)
    # Use the state exactly once, even if the callback arrives twice at once.
    with writing(session):
        claimed = session.execute(update(OAuthState).where(
            OAuthState.state_hash == pending.state_hash, OAuthState.used_at.is_(None))
            .values(used_at=now)).rowcount
    if claimed != 1:
        return _fail("state_reused", "This sign-in has already been completed.", pending, integration)
    if foreign is not None:
        return _fail(*foreign, integration=integration)
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
    end_transaction(session)  # no transaction open while the provider answers
    try:
        token = oauth_client.exchange_code(integration, params["code"], pending.redirect_uri,
                                           crypto.decrypt(pending.code_verifier_encrypted))
        account = connections.read_account(integration, token)
        with writing(session):
            connection = connections.store_token(
                session, Actor.of_user(user, "web", source_ip), integration, token, now)
            if account is not None:
                connection.account = account
    except oauth_client.TokenEndpointError as failure:
        return _fail("token_exchange_failed", f"The provider did not issue a token ({failure.error}).",
                     pending, integration)
    return CallbackResult(True, "connected", "Connected.", integration, connection,
                          pending.return_to, pending.popup)

