"""Scheduled syncs: plan the next run when an integration is saved, and start due runs.

``schedule_changed`` runs after every save of an integration (a save hook of the
integrations service); ``start_due`` is the queue's minute tick. Both only touch
``sync_states``; starting a run uses the same claim as a manual trigger.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from integration_hub.db.models import Integration, SyncRun, SyncState, User
from integration_hub.db.session import writing
from integration_hub.db.types import new_uuid, utcnow
from integration_hub.services.integrations import SAVE_HOOKS
from integration_hub.services.sync import claim, ensure_state
from integration_hub.services.sync_settings import SyncSettingsInvalid, parse


def schedule_changed(session: Session, user: User, integration: Integration) -> None:
    """After an integration is saved: (re)plan its next scheduled run when the schedule
    changed. Scheduled runs act as the user who last set the schedule."""
    try:
        sync_settings = parse((integration.data or {}).get("sync"))
    except SyncSettingsInvalid:
        sync_settings = None
    schedule = sync_settings.schedule if sync_settings else None
    key = schedule.key if schedule else None
    state = session.get(SyncState, integration.id)
    if state is None and key is None:
        return
    if state is None:
        session.flush()
        ensure_state(session, integration.id)
        state = session.get(SyncState, integration.id)
    if state.schedule_key != key:
        state.schedule_key = key
        state.next_run_at = schedule.next_run(utcnow()) if schedule else None
        if schedule:
            state.run_as = user.username


SAVE_HOOKS.append(schedule_changed)


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
