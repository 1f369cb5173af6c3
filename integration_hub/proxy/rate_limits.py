"""Optional per-user and per-integration rate limits of the proxy.

Fixed windows counted in the database (one upsert per limited call), so every
worker on every machine sees the same counts. Configured per integration in
``data.rateLimit`` = ``{"perUser": 60, "perIntegration": 600, "windowSeconds": 60}``.

The table is shared with the sign-in throttle (identity/login_throttle.py), and windows differ in
length, so every counter carries the moment its window ends: forgetting old counters
deletes exactly those, never a counter of a longer window that still counts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.db.locks import delete_unlocked
from integration_hub.db.models import RateLimitCounter
from integration_hub.db.session import writing


class RateLimited(errors.TooManyRequests):
    code, title = "rate_limited", "Too many calls through the hub"


def limits_of(data: Mapping[str, Any]) -> tuple[int, int, int]:
    """(per user, per integration, window seconds); 0 means no limit."""
    config = (data or {}).get("rateLimit") or {}
    window = int(config.get("windowSeconds") or 60)
    return int(config.get("perUser") or 0), int(config.get("perIntegration") or 0), max(1, window)


def count(session: Session, key: str, window_start: int, window: int) -> int:
    """Add one to the key's counter of the window; answers the new count."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(RateLimitCounter).values(
        key=key, window_start=window_start, count=1, expires_at=window_start + window)
    statement = statement.on_conflict_do_update(
        index_elements=["key", "window_start"],
        set_={"count": RateLimitCounter.count + 1}).returning(RateLimitCounter.count)
    return session.execute(statement).scalar_one()


def forget_expired(session: Session, now: int) -> int:
    """Delete the counters whose window has ended (any kind, any length); answers how many.
    Rows another transaction is counting are left for the next time: this never waits."""
    return delete_unlocked(session, RateLimitCounter, RateLimitCounter.expires_at <= now)


def check(session: Session, integration_id: str, username: str, data: Mapping[str, Any],
          now: float | None = None) -> None:
    """Count this call; 429 with Retry-After when a configured limit is exceeded."""
    per_user, per_integration, window = limits_of(data)
    if not per_user and not per_integration:
        return
    now = time.time() if now is None else now
    window_start = int(now // window * window)
    retry_after = str(max(1, int(window_start + window - now + 0.999)))
    checks = [(f"u:{integration_id}:{username}", per_user, "you on this integration"),
              (f"i:{integration_id}", per_integration, "this integration")]
    with writing(session):
        if window_start % (window * 10) == 0:  # now and then, forget ended windows
            forget_expired(session, int(now))
        # The user's own limit first: calls refused by it do not use up the integration's.
        for key, limit, who in checks:
            if limit and count(session, key, window_start, window) > limit:
                refusal = RateLimited(f"at most {limit} calls per {window} s for {who}",
                                      headers={"Retry-After": retry_after})
                break
        else:
            refusal = None
    if refusal is not None:
        raise refusal
