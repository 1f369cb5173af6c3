"""Signing in with a password, throttled: after ``HUB_LOGIN_MAX_FAILURES`` failures
for one user, or from one client address, within ``HUB_LOGIN_WINDOW`` seconds, sign-in
answers 429 until the window ends, whether the password is right or not.

Failures are counted in the database (the proxy's fixed-window counters), so every
worker on every machine sees them. A successful sign-in clears the user's count, not
the address's: one address trying many users stays throttled.
"""

from __future__ import annotations

import time

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.config import Settings
from integration_hub.db.models import RateLimitCounter, User
from integration_hub.db.session import writing
from integration_hub.services import identity, rate_limits


class SignInThrottled(errors.TooManyRequests):
    code, title = "sign_in_throttled", "Too many failed sign-ins"


def _keys(tenant_id: str, username: str, client: str | None) -> tuple[str, str]:
    return f"login:user:{tenant_id}:{username.lower()}", f"login:addr:{client or 'unknown'}"


def check_password(session: Session, settings: Settings, tenant_id: str, username: str,
                   password: str, client: str | None, now: float | None = None) -> User:
    """The user, or ``InvalidCredentials`` (counted), or ``SignInThrottled`` (not checked)."""
    now = time.time() if now is None else now
    window = settings.login_window_seconds
    window_start = int(now // window * window)
    user_key, address_key = _keys(tenant_id, username, client)
    counts = dict(session.execute(select(RateLimitCounter.key, RateLimitCounter.count).where(
        RateLimitCounter.key.in_((user_key, address_key)),
        RateLimitCounter.window_start == window_start)).all())
    session.commit()
    if max(counts.values(), default=0) >= settings.login_max_failures:
        retry_after = max(1, int(window_start + window - now + 0.999))
        raise SignInThrottled(f"too many failed sign-ins; try again in {retry_after} s",
                              headers={"Retry-After": str(retry_after)})
    try:
        user = identity.check_password(session, tenant_id, username, password)
    except errors.InvalidCredentials:
        with writing(session):
            rate_limits.count(session, user_key, window_start)
            rate_limits.count(session, address_key, window_start)
        raise
    if counts.get(user_key):
        with writing(session):
            session.execute(delete(RateLimitCounter).where(RateLimitCounter.key == user_key))
    return user
