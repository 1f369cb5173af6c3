"""Whom a sync acts as: the user who last changed or confirmed ``data.sync``.

Every run of an integration's sync, scheduled or started by hand, calls the upstream with
one user's identity and connection: whoever last saved a different ``data.sync`` or
confirmed it as it is (``POST .../sync/confirm``). No one can name another user, not even
an administrator. ``sync_states`` keeps that user (``run_as``), since when, and a digest of
the settings they saved; settings that differ from the digest (written some other way, or
kept from before this rule) run for no one until someone confirms them.

A run acts only while its user exists, is enabled and may read the integration, and only
with the settings that user saw; otherwise it calls nothing, fails with the reason, and
the schedule pauses until someone with write access changes or confirms ``data.sync``.

See docs/security.md, "Whom a sync acts as".
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.db.models import Integration, SyncRun, SyncState, Tenant, User
from integration_hub.identity import directory as identity
from integration_hub.integrations import store as integrations
from integration_hub.integrations.store import Found

# Failures that no retry cures: the schedule pauses on them instead of failing every slot.
PAUSING = frozenset({"sync_unconfirmed", "sync_user_missing", "integration_not_connected",
                     "connection_reauth_required"})


class SyncUnconfirmed(errors.Conflict):
    code, title = "sync_unconfirmed", "No one has confirmed the integration's data.sync as it is"


class PrincipalUnusable(Exception):
    """Why a run may act as no one, in words safe to show to anyone who may read the
    integration."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def sync_of(integration: Integration) -> Any:
    return (integration.data or {}).get("sync")


def digest(raw: Any) -> str | None:
    """A digest of ``data.sync`` that ignores key order and spacing; None without one."""
    if raw is None:
        return None
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def bind(state: SyncState, user: User, raw: Any, now: datetime) -> None:
    """``user`` changed ``data.sync`` to ``raw`` or confirmed it: runs act as them from now
    on, with exactly these settings (none when ``raw`` is None)."""
    current = digest(raw)
    state.settings_digest = current
    state.run_as = user.username if current else None
    state.run_as_since = now if current else None


def confirmed(state: SyncState | None, integration: Integration) -> bool:
    """Someone is bound to the integration's ``data.sync`` exactly as it is."""
    return (state is not None and bool(state.run_as)
            and state.settings_digest is not None
            and state.settings_digest == digest(sync_of(integration)))


def principal(session: Session, integration: Integration) -> str:
    """Whom a run started now acts as; 409 ``sync_unconfirmed`` when no one is bound to
    the settings as they are."""
    state = state_of(session, integration.id)
    if not confirmed(state, integration):
        raise SyncUnconfirmed("data.sync was written without anyone taking it over; someone "
                              "with write access confirms it first (inf:sync-confirm)")
    return state.run_as


def state_of(session: Session, integration_id: str) -> SyncState | None:
    return session.get(SyncState, integration_id, populate_existing=True)


def acting_user(session: Session, run: SyncRun) -> tuple[User, Tenant, Found]:
    """The user a run acts as, read afresh, with the integration as that user may use it.

    The integration and the binding are read again here, so the settings the run fetches
    with are the ones its user saved (a digest that differs fails the run)."""
    integration = session.get(Integration, run.integration_id, populate_existing=True)
    state = state_of(session, run.integration_id)
    if not confirmed(state, integration):
        raise PrincipalUnusable("sync_unconfirmed", "data.sync was written without anyone "
                                "taking it over; someone with write access confirms it")
    if state.run_as != run.run_as:
        raise PrincipalUnusable("sync_changed", "data.sync was changed after this run was "
                                f"queued; runs now act as {state.run_as!r}")
    try:
        user = identity.get_user(session, integration.tenant_id, run.run_as)
    except errors.NotFound:
        raise PrincipalUnusable("sync_user_missing", f"the user {run.run_as!r} the sync acts "
                                                     "as no longer exists") from None
    if not user.enabled:
        raise PrincipalUnusable("sync_user_missing",
                                f"the user {run.run_as!r} the sync acts as is disabled")
    try:
        found = integrations.find(session, user, integration.id)
    except errors.NotFound:
        raise PrincipalUnusable("sync_user_missing", f"the user {run.run_as!r} may no longer "
                                                     "use this integration") from None
    return user, session.get(Tenant, integration.tenant_id), found


def pause(session: Session, run: SyncRun, code: str) -> None:
    """Stop the schedule after ``run`` failed with ``code``, unless the settings were changed
    or confirmed since the run was queued (that resumed it already)."""
    session.execute(
        update(SyncState)
        .where(SyncState.integration_id == run.integration_id, SyncState.run_as == run.run_as,
               or_(SyncState.run_as_since.is_(None), SyncState.run_as_since <= run.created_at))
        .values(next_run_at=None, paused_code=code)
        .execution_options(synchronize_session=False))
