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

What is typed is bounded (``FIELD_LIMITS``, the longest tenant id and username there can
be) and counted under a SHA-256 digest, never as typed: the key has one length whatever
was sent, and the table does not hold a password someone typed into the username field.
The table cannot grow past the windows that still count: every attempt first forgets the
counters whose window has passed, and an address already throttled is not counted per
username, so it cannot add a row for each name it invents (docs/security.md).
"""

from __future__ import annotations

import hashlib
import time

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.config import Settings
from integration_hub.db.models import RateLimitCounter, User
from integration_hub.db.session import writing
from integration_hub.identity import directory as identity
from integration_hub.proxy import rate_limits

# The longest tenant id and username the hub creates (identity.SLUG_PATTERN and
# USERNAME_PATTERN); a password as long as a user may set.
FIELD_LIMITS = {"tenant": 64, "username": 64, "password": 1024}


class SignInThrottled(errors.TooManyRequests):
    code, title = "sign_in_throttled", "Too many failed sign-ins"


def check_lengths(tenant_id: str, username: str, password: str) -> None:
    """``ValidationFailed`` naming every field longer than any the hub holds. It depends on
    what was typed only, so it tells nothing of who exists."""
    typed = {"tenant": tenant_id, "username": username, "password": password}
    too_long = {name: [f"at most {FIELD_LIMITS[name]} characters"]
                for name, value in typed.items() if len(value) > FIELD_LIMITS[name]}
    if too_long:
        raise errors.ValidationFailed(f"too long: {', '.join(sorted(too_long))}", errors=too_long)


def _digest(*parts: str) -> str:
    # NUL cannot be part of a tenant id or username, so the parts cannot run into each other.
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def user_key(tenant_id: str, username: str) -> str:
    return "login:user:" + _digest(tenant_id, username.lower())


def address_key(client: str | None) -> str:
    return "login:addr:" + _digest(client or "unknown")


def check_password(session: Session, settings: Settings, tenant_id: str, username: str,
                   password: str, client: str | None, now: float | None = None) -> User:
    """The user, or ``InvalidCredentials`` (counted), or ``SignInThrottled`` (not checked),
    or ``ValidationFailed`` for fields too long (not counted)."""
    check_lengths(tenant_id, username, password)
    now = time.time() if now is None else now
    window = settings.login_window_seconds
    window_start = int(now // window * window)
    limit = settings.login_max_failures
    user, address = user_key(tenant_id, username), address_key(client)
    with writing(session):  # the attempt is taken before anything is checked
        rate_limits.forget_expired(session, int(now))
        # The address first: once it is throttled, the usernames it tries add no rows.
        counts = [rate_limits.count(session, address, window_start, window)]
        if counts[0] <= limit:
            counts.append(rate_limits.count(session, user, window_start, window))
    if max(counts) > limit:
        retry_after = max(1, int(window_start + window - now + 0.999))
        raise SignInThrottled(f"too many failed sign-ins; try again in {retry_after} s",
                              headers={"Retry-After": str(retry_after)})
    found = identity.check_password(session, tenant_id, username, password)  # or raises, counted
    with writing(session):  # the rows in the order they were counted: no deadlock
        session.execute(update(RateLimitCounter).where(
            RateLimitCounter.key == address, RateLimitCounter.window_start == window_start,
            RateLimitCounter.count > 0).values(count=RateLimitCounter.count - 1))
        session.execute(delete(RateLimitCounter).where(RateLimitCounter.key == user))
    return found
