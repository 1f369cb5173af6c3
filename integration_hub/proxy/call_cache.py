"""What this process remembers between proxied calls: who a token speaks for, and each
caller's plan for each integration (proxy/call_plans.py), so that a call it has seen before
reads nothing from the database (docs/decisions.md, "Performance").

Every entry is tagged with the database's change generation (db/generations.py) read
before the reads it was made of. Any committed change to tokens, users, tenants, teams,
memberships, integrations, shares or connections moves the generation, and an entry of
another generation is never used: a revoked token, a removed share, a disabled user or a
deleted connection is refused by the next call that sees the new generation. While the
generation is unknown (no source, PostgreSQL's listener down) nothing is remembered.
A short time to live is the backstop; the size is bounded by starting afresh.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from integration_hub.proxy.call_plans import CallPlan

TIME_TO_LIVE = 10.0  # seconds an entry is trusted at most, whatever the generation says
MAX_ENTRIES = 20_000  # per kind; beyond it the cache starts afresh


@dataclass(frozen=True)
class KnownBearer:
    """An API token as the proxy needs it: whose it is, its scopes and its expiry."""
    token_id: str
    user_id: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    last_used_at: datetime | None


class CallCache:
    """Thread-safe by construction: entries are immutable and replaced whole; a dict's
    get and set are atomic."""

    def __init__(self, time_to_live: float = TIME_TO_LIVE, max_entries: int = MAX_ENTRIES):
        self._ttl = time_to_live
        self._max = max_entries
        self.generation: int | None = None
        self._bearers: dict[str, tuple[int, float, KnownBearer]] = {}
        self._plans: dict[tuple[str, str], tuple[int, float, CallPlan]] = {}

    def observe(self, generation: int | None) -> bool:
        """Take the generation just read; answers whether entries may be used for this call.
        A newer generation forgets every entry (changes are rare next to calls); an older
        one (read by a thread that lost the race to a newer) uses nothing."""
        if generation is None:
            self.generation, self._bearers, self._plans = None, {}, {}
            return False
        if self.generation is not None and generation < self.generation:
            return False
        if generation != self.generation:
            self._bearers, self._plans = {}, {}
            self.generation = generation
        return True

    def bearer(self, token_hash: str) -> KnownBearer | None:
        return self._fresh(self._bearers.get(token_hash))

    def plan(self, user_id: str, integration_key: str) -> CallPlan | None:
        return self._fresh(self._plans.get((user_id, integration_key)))

    def keep_bearer(self, token_hash: str, bearer: KnownBearer, generation: int | None) -> None:
        """Remember ``bearer``, read under ``generation`` (read before the token was)."""
        self._keep(self._bearers, token_hash, bearer, generation)

    def keep_plan(self, user_id: str, integration_key: str, plan: CallPlan,
                  generation: int | None) -> None:
        if not plan.rate_limited:  # a limited call is counted in the database, every time
            self._keep(self._plans, (user_id, integration_key), plan, generation)

    def _keep(self, entries: dict, key, value, generation: int | None) -> None:
        if generation is None or generation != self.generation:
            return  # read under a generation that has passed, or none: not to be trusted
        if len(entries) >= self._max:
            entries.clear()
        entries[key] = (generation, time.monotonic(), value)

    def _fresh(self, entry):
        if entry is None:
            return None
        generation, kept_at, value = entry
        if generation != self.generation or time.monotonic() - kept_at > self._ttl:
            return None
        return value
