"""Keeping OAuth access tokens fresh: exactly one token request however many
requests, threads, processes or machines need a refresh at the same time, and no
transaction open while the authorization server answers (docs/decisions.md,
"Connections and the OAuth flow"; docs/security.md, "The hub's database while it waits").

A refresh is claimed on the connection's row in a short transaction holding the row's
lock (PostgreSQL ``FOR UPDATE``; SQLite's write lock): a random value, and until when
the claim holds, longer than the token request can take. The transaction ends; the
token endpoint is asked with none open; a second short transaction writes the answer
if the claim is still ours. Whoever needs the same refresh meanwhile looks at the row
until the claim is gone (or has run out, when its holder died) and uses the result.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from integration_hub import crypto, errors, metrics
from integration_hub.connections.connect_rules import NotConnected, ReauthRequired
from integration_hub.connections.store import apply_token, connection_of
from integration_hub.db.models import Connection, Integration, User
from integration_hub.db.session import writing
from integration_hub.db.types import utcnow
from integration_hub.oauth import client as oauth_client
from integration_hub.oauth import rules as oauth_rules
from integration_hub.outbound import sessions as outbound_requests
from integration_hub.outbound.upstream_http import UpstreamAddressDenied
from integration_hub.webhooks import events as webhook_events

CLAIM_MARGIN = 30.0  # seconds a claim holds beyond the token request's own deadline
FIRST_PAUSE, LONGEST_PAUSE = 0.05, 0.5  # seconds between two looks at someone's claim


class TokenRefreshBackoff(errors.HubError):
    status, code, title = 503, "token_refresh_backoff", "Token refresh is paused after failures"


def usable_token_connection(session: Session, user: User, integration: Integration,
                            skew: timedelta) -> Connection:
    """The caller's OAuth connection with an access token valid beyond ``skew``."""
    connection = connection_of(session, user, integration)
    if connection is None or connection.access_token_encrypted is None:
        raise NotConnected("connect your account first", integration=integration)
    if connection.status == "reauth_required":
        raise ReauthRequired("the authorization server refused the refresh token; "
                             "connect again", integration=integration)
    return refresh_if_needed(session, integration, connection, skew)


def refresh_if_needed(session: Session, integration: Integration, connection: Connection,
                      skew: timedelta, force_after: datetime | None = None) -> Connection:
    """Refresh when the token expires within ``skew`` (or was obtained before
    ``force_after``), exactly once however many requests ask at the same time; the
    session has no transaction open while the token endpoint answers."""
    def wanted(c: Connection) -> bool:
        if force_after is not None:
            obtained = max(filter(None, (c.last_refreshed_at, c.last_authorized_at)),
                           default=None)
            return obtained is None or obtained < force_after
        return oauth_rules.needs_refresh(c.token_expires_at, utcnow(), skew, _refreshed_at(c))

    if not wanted(connection):
        return connection
    connection_id, pause = connection.id, FIRST_PAUSE
    while True:
        connection = _current(session, integration, connection_id)
        if not wanted(connection):
            return connection
        if _claimed(connection, utcnow()):  # someone is refreshing it: wait for the result
            time.sleep(pause)
            pause = min(2 * pause, LONGEST_PAUSE)
            continue
        with writing(session):
            connection = _current(session, integration, connection_id, lock=True)
            if not wanted(connection) or _claimed(connection, utcnow()):
                continue
            claim = _claim(integration, connection)
        if isinstance(claim, errors.HubError):
            raise claim
        claim_value, refresh_token = claim
        asked_at = utcnow()  # the token's lifetime counts from before it was issued
        try:
            answer = _ask(integration, refresh_token)
        except BaseException:
            _release(session, connection_id, claim_value)
            raise
        with writing(session):
            connection = _current(session, integration, connection_id, lock=True)
            if connection.refresh_claim != claim_value:  # connected again meanwhile
                continue
            outcome = _record(integration, connection, answer, asked_at)
        if outcome is not None:
            raise outcome
        return connection


def _refreshed_at(connection: Connection) -> datetime | None:
    """When the hub refreshed the token it holds now; None when the token came from
    connecting (after its last refresh)."""
    refreshed, authorized = connection.last_refreshed_at, connection.last_authorized_at
    return refreshed if refreshed and (authorized is None or refreshed >= authorized) else None


def _current(session: Session, integration: Integration, connection_id: str,
             lock: bool = False) -> Connection:
    """The connection as stored now: under its row's lock inside ``writing``, else read
    and the read transaction ended at once (a waiting request holds nothing)."""
    query = select(Connection).where(Connection.id == connection_id)
    if lock:
        query = query.with_for_update()
    connection = session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if not lock:
        session.commit()
    if connection is None:
        raise NotConnected("the connection was removed; connect again", integration=integration)
    return connection


def _claimed(connection: Connection, now: datetime) -> bool:
    until = connection.refresh_claimed_until
    return connection.refresh_claim is not None and until is not None and until > now


def _claim(integration: Integration,
           connection: Connection) -> tuple[str, str] | errors.HubError:
    """Under the row's lock: (the claim, the refresh token), or the error to answer once
    the transaction is committed (so what it recorded is kept)."""
    now = utcnow()
    if connection.status == "reauth_required":
        return ReauthRequired("connect again", integration=integration)
    if connection.retry_after is not None and connection.retry_after > now:
        seconds = int((connection.retry_after - now).total_seconds()) + 1
        return TokenRefreshBackoff(
            f"the last refresh failed; next attempt in {seconds} s",
            headers={"Retry-After": str(seconds)})
    refresh_token = crypto.decrypt(connection.refresh_token_encrypted)
    if not refresh_token:
        if connection.status != "expired":  # told once, not on every call after
            connection.status = "expired"
            _tell(integration, connection, "connection.reauth_required")
        return ReauthRequired("the token expired and there is no refresh token; connect again",
                              integration=integration)
    connection.refresh_claim = secrets.token_hex(16)
    connection.refresh_claimed_until = now + timedelta(
        seconds=outbound_requests.ANSWER_DEADLINE + CLAIM_MARGIN)
    return connection.refresh_claim, refresh_token


def _ask(integration: Integration,
         refresh_token: str) -> dict[str, Any] | oauth_client.TokenEndpointError:
    """The token endpoint's answer or failure (bounded by the outbound calls' deadline)."""
    try:
        return oauth_client.refresh(integration, refresh_token)
    except oauth_client.TokenEndpointError as failure:
        return failure


def _release(session: Session, connection_id: str, claim: str) -> None:
    """Give up a claim after an unexpected failure, so the next request may try."""
    with writing(session):
        connection = session.get(Connection, connection_id, with_for_update=True,
                                 populate_existing=True)
        if connection is not None and connection.refresh_claim == claim:
            connection.refresh_claim = connection.refresh_claimed_until = None


def _record(integration: Integration, connection: Connection,
            answer: dict[str, Any] | oauth_client.TokenEndpointError,
            asked_at: datetime) -> errors.HubError | None:
    """Record the answer on the claimed row and end the claim; answers the error to raise
    once the transaction is committed (so the failure is kept)."""
    now = utcnow()
    connection.refresh_claim = connection.refresh_claimed_until = None
    try:
        if isinstance(answer, oauth_client.TokenEndpointError):
            raise answer
        note = apply_token(connection, answer, asked_at, keep_refresh_token=True)
    except oauth_client.TokenEndpointError as failure:
        return _failed(integration, connection, failure, now)
    metrics.TOKEN_REFRESHES.labels("succeeded").inc()
    was_failing = connection.status != "active" or connection.failures > 0
    connection.status = "active"
    connection.last_refreshed_at = now
    connection.failures = 0
    connection.retry_after = None
    connection.last_error = note
    _tell(integration, connection, "connection.refreshed")
    if was_failing:
        _tell(integration, connection, "connection.recovered")
    return None


def _failed(integration: Integration, connection: Connection,
            failure: oauth_client.TokenEndpointError, now: datetime) -> errors.HubError:
    connection.last_error = {"code": failure.error, "message": failure.description,
                             "at": now.isoformat()}
    if failure.kind == "denied":  # the configuration's fault: nothing was sent, no backoff
        metrics.TOKEN_REFRESHES.labels("failed").inc()
        return UpstreamAddressDenied(failure.description)
    metrics.TOKEN_REFRESHES.labels(
        "reauth_required" if failure.kind in ("invalid_grant", "rejected")
        else "timeout" if failure.kind == "timeout" else "failed").inc()
    if failure.kind in ("invalid_grant", "rejected"):
        connection.status = "reauth_required"
        _tell(integration, connection, "connection.reauth_required")
        return ReauthRequired("the authorization server refused the refresh token; "
                              "connect again", integration=integration)
    connection.failures += 1
    connection.retry_after = now + oauth_rules.backoff(connection.failures)
    if failure.kind == "timeout":
        return oauth_client.TokenEndpointTimeout(failure.description)
    return oauth_client.TokenEndpointFailed(failure.description)


def _tell(integration: Integration, connection: Connection, event: str) -> None:
    """Webhook event in the transaction holding the connection's lock."""
    session = object_session(connection)
    session.flush()
    webhook_events.emit(session, integration.tenant_id, event, connection)
