"""Signing in with a password, throttled: at most ``HUB_LOGIN_MAX_FAILURES`` passwords
are checked for one user, or from one client address, within ``HUB_LOGIN_WINDOW``
seconds, unless they are right; past that, sign-in answers 429 until the window ends,
whether the password is right or not.

Every attempt is counted before its password is checked, by one atomic increment in the
database that answers the new count (the proxy's fixed-window counters), so the database
decides: however many attempts arrive at once, in however many workers on however many
machines, only those counted within the limit are checked. A right password gives its
attempt back: a successful sign-in clears the user's count and takes nothing from the
address's, so one address trying many users stays throttled while people signing in
from one office do not throttle each other.
"""

from __future__ import annotations

import time

from sqlalchemy import delete, update
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
    with writing(session):  # the attempt is taken before anything is checked
        counts = [rate_limits.count(session, key, window_start) for key in (user_key, address_key)]
    if max(counts) > settings.login_max_failures:
        retry_after = max(1, int(window_start + window - now + 0.999))
        raise SignInThrottled(f"too many failed sign-ins; try again in {retry_after} s",
                              headers={"Retry-After": str(retry_after)})
    user = identity.check_password(session, tenant_id, username, password)  # or raises, counted
    with writing(session):
        session.execute(delete(RateLimitCounter).where(RateLimitCounter.key == user_key))
        session.execute(update(RateLimitCounter).where(
            RateLimitCounter.key == address_key, RateLimitCounter.window_start == window_start,
            RateLimitCounter.count > 0).values(count=RateLimitCounter.count - 1))
    return user
