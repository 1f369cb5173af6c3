"""Keeping OAuth access tokens fresh: exactly one token request however many
requests, threads, processes or machines need a refresh at the same time."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from integration_hub import errors, metrics
from integration_hub.db.models import Connection, Integration, User
from integration_hub.db.session import writing
from integration_hub.db.types import utcnow
from integration_hub.services import crypto, oauth_client, oauth_rules, webhook_events
from integration_hub.services.connections import (
    NotConnected,
    ReauthRequired,
    TokenEndpointFailed,
    TokenEndpointTimeout,
    TokenRefreshBackoff,
    apply_token,
    connection_of,
)
from integration_hub.services.upstream_http import UpstreamAddressDenied


def usable_token_connection(session: Session, user: User, integration: Integration,
                            skew: timedelta) -> Connection:
    """The caller's OAuth connection with an access token valid beyond ``skew``."""
    connection = connection_of(session, user, integration)
    if connection is None or connection.access_token_encrypted is None:
        raise NotConnected("connect your account first")
    if connection.status == "reauth_required":
        raise ReauthRequired("the authorization server refused the refresh token; "
                             "connect again")
    return refresh_if_needed(session, integration, connection, skew)


def refresh_if_needed(session: Session, integration: Integration, connection: Connection,
                      skew: timedelta, force_after: datetime | None = None) -> Connection:
    """Refresh when the token expires within ``skew`` (or was last refreshed before
    ``force_after``), exactly once however many requests ask at the same time.

    The connection's row is locked (PostgreSQL ``FOR UPDATE``; SQLite's write
    lock) and the need is checked again under the lock: whoever waited finds the
    token the first one fetched.
    """
    def wanted(c: Connection) -> bool:
        if force_after is not None:
            return c.last_refreshed_at is None or c.last_refreshed_at < force_after
        return oauth_rules.needs_refresh(c.token_expires_at, utcnow(), skew)

    if not wanted(connection):
        return connection
    connection_id = connection.id
    with writing(session):
        connection = session.scalars(
            select(Connection).where(Connection.id == connection_id)
            .with_for_update().execution_options(populate_existing=True)).one()
        if not wanted(connection):
            return connection
        outcome = _refresh_locked(integration, connection)
    if isinstance(outcome, errors.HubError):
        raise outcome
    return connection


def _refresh_locked(integration: Integration, connection: Connection) -> errors.HubError | None:
    """Call the token endpoint; record the result on the locked row. Returns the
    error to raise once the transaction is committed (so the failure is kept)."""
    now = utcnow()
    if connection.status == "reauth_required":
        return ReauthRequired("connect again")
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
        return ReauthRequired("the token expired and there is no refresh token; connect again")
    try:
        token = oauth_client.refresh(integration, refresh_token)
        apply_token(connection, token, now, keep_refresh_token=True)
    except oauth_client.TokenEndpointError as failure:
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
                                  "connect again")
        connection.failures += 1
        connection.retry_after = now + oauth_rules.backoff(connection.failures)
        if failure.kind == "timeout":
            return TokenEndpointTimeout(failure.description)
        return TokenEndpointFailed(failure.description)
    metrics.TOKEN_REFRESHES.labels("succeeded").inc()
    was_failing = connection.status != "active" or connection.failures > 0
    connection.status = "active"
    connection.last_refreshed_at = now
    connection.failures = 0
    connection.retry_after = None
    connection.last_error = None
    _tell(integration, connection, "connection.refreshed")
    if was_failing:
        _tell(integration, connection, "connection.recovered")
    return None


def _tell(integration: Integration, connection: Connection, event: str) -> None:
    """Webhook event in the transaction holding the connection's lock."""
    session = object_session(connection)
    session.flush()
    webhook_events.emit(session, integration.tenant_id, event, connection)
