"""Scheduled syncs: plan the next run when an integration is saved, and start due runs.

``sync_saved`` runs after every save of an integration (the app factory hands it to
integrations/store.py): whoever changed ``data.sync`` becomes whom its runs act as
(sync/principal.py), and the next run is planned again when the schedule changed
or a paused schedule resumes. ``confirm`` does the same for the settings as they are.
``start_due`` is the queue's minute tick. All of them only touch ``sync_states``; starting a
run uses the same claim as a manual trigger.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from integration_hub.db.models import Integration, SyncRun, SyncState, User
from integration_hub.db.session import writing
from integration_hub.db.types import new_uuid, utcnow
from integration_hub.integrations.acl import Access, require
from integration_hub.integrations.store import Found
from integration_hub.sync import principal as sync_principal
from integration_hub.sync.runs import claim, ensure_state, settings_of
from integration_hub.sync.settings import SyncSettingsInvalid, parse


def sync_saved(session: Session, user: User, integration: Integration,
               before: Mapping[str, Any] | None) -> None:
    """After an integration is saved: when the save changed ``data.sync``, its runs act as
    ``user`` from now on. A save that leaves it as it was binds no one (so settings no one
    confirmed stay unconfirmed)."""
    earlier = ((before or {}).get("data") or {}).get("sync")
    changed = sync_principal.digest(earlier) != sync_principal.digest(
        sync_principal.sync_of(integration))
    _take_over(session, user, integration, rebind=changed)



def confirm(session: Session, user: User, found: Found) -> None:
    """``POST .../sync/confirm`` (write access): the caller takes the sync over as it is;
    its runs act as them from now on, and a paused schedule resumes."""
    require(found.access, Access.WRITE)
    settings_of(found.integration)  # 409 sync_not_configured: nothing to confirm
    _take_over(session, user, found.integration, rebind=True)


def _take_over(session: Session, user: User, integration: Integration, rebind: bool) -> None:
    raw = sync_principal.sync_of(integration)
    try:
        sync_settings = parse(raw)
    except SyncSettingsInvalid:
        sync_settings = None
    schedule = sync_settings.schedule if sync_settings else None
    key = schedule.key if schedule else None
    state = session.get(SyncState, integration.id)
    if state is None and raw is None:
        return
    if state is None:
        session.flush()
        ensure_state(session, integration.id)
        state = session.get(SyncState, integration.id)
    now = utcnow()
    resumed = rebind and state.paused_code is not None
    if rebind:
        sync_principal.bind(state, user, raw, now)
        state.paused_code = None
    if state.schedule_key != key or resumed:
        state.schedule_key = key
        state.next_run_at = schedule.next_run(now) if schedule else None


def start_due(session: Session, now: datetime, lease_seconds: int) -> list[str]:
    """Claim a run for every integration whose schedule is due; the run ids to enqueue.

    Each due slot is taken by one conditional UPDATE of ``next_run_at``, so ticks on
    several workers start a slot once. A slot that finds a run still going is skipped.
    """
    due = session.execute(select(SyncState.integration_id, SyncState.next_run_at)
                          .where(SyncState.next_run_at <= now)).all()
    started = []
    for integration_id, slot in due:
        with writing(session):
            integration = session.get(Integration, integration_id)
            try:
                sync_settings = parse((integration.data or {}).get("sync"))
            except SyncSettingsInvalid:
                sync_settings = None
            schedule = sync_settings.schedule if sync_settings else None
            following = schedule.next_run(now) if schedule else None
            taken = session.execute(
                update(SyncState).where(SyncState.integration_id == integration_id,
                                        SyncState.next_run_at == slot)
                .values(next_run_at=following).execution_options(synchronize_session=False))
            state = session.get(SyncState, integration_id)
            if taken.rowcount != 1 or schedule is None or not integration.enabled \
                    or not state.run_as:
                continue
            run_id = new_uuid()
            if claim(session, integration_id, run_id, now, lease_seconds):
                session.add(SyncRun(id=run_id, integration_id=integration_id,
                                    model=sync_settings.model, trigger="schedule",
                                    status="queued", run_as=state.run_as, created_at=now))
                started.append(run_id)
    return started
