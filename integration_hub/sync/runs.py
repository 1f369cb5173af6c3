"""Syncs: page through an upstream listing and make a records model match it.

A run is claimed in the database before it is queued: ``sync_states`` holds, per
integration, the run that may work on it, with a lease. The claim is one conditional
UPDATE, so two triggers (two threads, two machines) cannot both win; the loser gets
409 ``sync_in_progress``. A worker that dies lets its lease run out, and the next claim
takes over. The records change only at the end, in one transaction, and only while the
run still holds its claim: a failed run leaves the previous records as they were. That
transaction also tells the webhooks which records the run created, updated and marked
deleted (``record.*``, webhooks/record_events.py), before ``sync.completed``.

Pages are fetched through the request proxy's own code (``sync_pages``): the same
connection, token refresh, URL guard, network policy and retries (a 429 with Retry-After
is waited out), each call in the request log, and a deadline for each whole page.

See docs/decisions.md, "Records, imports and syncs".
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import urllib3
from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from integration_hub import errors
from integration_hub.config import Settings
from integration_hub.connections.store import require_enabled
from integration_hub.db.models import Integration, SyncRun, SyncState, User
from integration_hub.db.session import writing
from integration_hub.db.types import new_uuid, utcnow
from integration_hub.integrations.acl import Access, require
from integration_hub.integrations.store import Found
from integration_hub.records import store as records
from integration_hub.sync import principal as sync_principal
from integration_hub.sync.pages import SyncFailed, get_page
from integration_hub.sync.paging import PageInvalid, first_page, items_of, next_page
from integration_hub.sync.paging import record_id as item_id
from integration_hub.sync.principal import PrincipalUnusable
from integration_hub.sync.settings import SyncSettings, SyncSettingsInvalid, parse
from integration_hub.webhooks import events as webhook_events
from integration_hub.webhooks.record_events import records_changed

log = logging.getLogger(__name__)
ACTIVE = ("queued", "running")


class SyncNotConfigured(errors.Conflict):
    code, title = "sync_not_configured", "The integration has no usable data.sync settings"


class SyncInProgress(errors.Conflict):
    code, title = "sync_in_progress", "A sync of this integration is already queued or running"


class QueueUnavailable(errors.HubError):
    status, code, title = 503, "queue_unavailable", "The task queue is not reachable; try again"


class SyncRunNotFound(errors.NotFound):
    code, title = "sync_run_not_found", "No such sync run"


def settings_of(integration: Integration) -> SyncSettings:
    try:
        settings = parse((integration.data or {}).get("sync"))
    except SyncSettingsInvalid as invalid:
        raise SyncNotConfigured(f"data.sync is not valid: {invalid}") from None
    if settings is None:
        raise SyncNotConfigured("set data.sync (path, pagination, ...) on the integration first")
    return settings


# -- claiming -----------------------------------------------------------------------------------

def ensure_state(session: Session, integration_id: str) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(SyncState).values(integration_id=integration_id)
                    .on_conflict_do_nothing(index_elements=["integration_id"]))


def claim(session: Session, integration_id: str, run_id: str, now: datetime,
          lease_seconds: int) -> bool:
    """Make ``run_id`` the integration's active run, unless another one holds a live lease."""
    ensure_state(session, integration_id)
    stale = session.scalar(select(SyncState.active_run_id).where(
        SyncState.integration_id == integration_id, SyncState.lease_until < now))
    won = session.execute(
        update(SyncState)
        .where(SyncState.integration_id == integration_id,
               or_(SyncState.active_run_id.is_(None), SyncState.lease_until < now))
        .values(active_run_id=run_id, lease_until=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)).rowcount == 1
    if won and stale:
        _fail_stale(session, stale, now)
    return won


def _fail_stale(session: Session, run_id: str, now: datetime) -> None:
    session.execute(update(SyncRun).where(SyncRun.id == run_id, SyncRun.status.in_(ACTIVE))
                    .values(status="failed", error_code="sync_lost", finished_at=now,
                            error="no worker finished this run within its lease")
                    .execution_options(synchronize_session=False))


def trigger(session: Session, user: User, found: Found, lease_seconds: int) -> SyncRun:
    """``POST .../sync``: a queued run holding the integration (write access). It acts as
    whoever last changed or confirmed data.sync, not as the caller (sync/principal.py)."""
    require(found.access, Access.WRITE)
    integration = found.integration
    require_enabled(integration)
    sync_settings = settings_of(integration)
    run = SyncRun(id=new_uuid(), integration_id=integration.id, model=sync_settings.model,
                  trigger="manual", status="queued",
                  run_as=sync_principal.principal(session, integration),
                  requested_by=user.username, created_at=utcnow())
    if not claim(session, integration.id, run.id, utcnow(), lease_seconds):
        raise SyncInProgress("a sync of this integration is already queued or running; "
                             "follow inf:sync for its progress")
    session.add(run)
    session.flush()
    return run


def abandon(session: Session, run_id: str, code: str, message: str) -> None:
    """A run that could not be queued: failed, and the integration released."""
    with writing(session):
        run = session.get(SyncRun, run_id)
        if run is not None:
            _finish(session, run, "failed", code, message)


# -- reading ------------------------------------------------------------------------------------

def get_run(session: Session, found: Found, run_id: str) -> SyncRun:
    require(found.access, Access.READ)
    run = session.get(SyncRun, run_id)
    if run is None or run.integration_id != found.integration.id:
        raise SyncRunNotFound("no such sync run of this integration")
    return run


def list_runs(session: Session, found: Found, start: int, limit: int) -> tuple[list[SyncRun], int]:
    require(found.access, Access.READ)
    where = SyncRun.integration_id == found.integration.id
    total = session.scalar(select(func.count()).select_from(SyncRun).where(where)) or 0
    runs = session.scalars(select(SyncRun).where(where)
                           .order_by(SyncRun.created_at.desc(), SyncRun.id).offset(start).limit(limit))
    return list(runs), total


def status(session: Session, found: Found) -> dict[str, Any]:
    """What ``GET .../sync`` shows: configuration, the active and last runs, the next run."""
    require(found.access, Access.READ)
    integration = found.integration
    try:
        sync_settings = parse((integration.data or {}).get("sync"))
        problem = None
    except SyncSettingsInvalid as invalid:
        sync_settings, problem = None, str(invalid)
    state = session.get(SyncState, integration.id)
    now = utcnow()
    active = None
    if state is not None and state.active_run_id and state.lease_until and state.lease_until >= now:
        active = session.get(SyncRun, state.active_run_id)
    last = session.scalars(select(SyncRun).where(
        SyncRun.integration_id == integration.id, SyncRun.status.not_in(ACTIVE))
        .order_by(SyncRun.finished_at.desc(), SyncRun.id).limit(1)).first()
    schedule = sync_settings.schedule if sync_settings else None
    bound = state is not None and state.settings_digest is not None
    return {
        "integration_id": integration.id,
        "access": found.access,
        "configured": sync_settings is not None,
        "problem": problem,
        "model": sync_settings.model if sync_settings else None,
        "schedule": ({"intervalMinutes": schedule.interval_minutes} if schedule and
                     schedule.interval_minutes else {"cron": schedule.cron} if schedule else None),
        "state": active.status if active else "idle",
        "active_run": active,
        "last_run": last,
        "next_run_at": state.next_run_at if state is not None and schedule else None,
        "run_as": state.run_as if bound else None,
        "run_as_since": state.run_as_since if bound else None,
        "confirmed": sync_principal.confirmed(state, integration),
        "paused": state is not None and state.paused_code is not None,
        "pause_reason": state.paused_code if state is not None else None,
    }


# -- running ------------------------------------------------------------------------------------

def execute(session: Session, run_id: str, settings: Settings, pool: urllib3.PoolManager,
            make_session: sessionmaker) -> SyncRun | None:
    """Run a queued sync to its end (the task queue's job). Never raises for a failed sync:
    the run records why."""
    run = session.get(SyncRun, run_id)
    if run is None or run.status != "queued":
        return run  # deleted with its integration, or delivered twice
    with writing(session):
        state = session.get(SyncState, run.integration_id)
        if state is None or state.active_run_id != run.id:
            _record(run, "failed", "sync_superseded", "another run took over before this one started")
            return run
        run.status, run.started_at = "running", utcnow()
        state.lease_until = utcnow() + timedelta(seconds=settings.sync_lease_seconds)
    try:
        items = _fetch(session, run, settings, pool, make_session)
        with writing(session):
            _hold(session, run, settings.sync_lease_seconds)
            written = records.replace_model(session, run.integration_id, run.model, items,
                                            utcnow())
            run.created, run.updated, run.deleted = (len(ids) for _, ids in written.by_change())
            _tell_webhooks(session, run, written)
            _finish(session, run, "succeeded")
    except (SyncFailed, PrincipalUnusable) as failure:
        _fail(session, run_id, failure.code, failure.message)
    except errors.HubError as failure:
        _fail(session, run_id, failure.code, failure.detail)
    except Exception:
        log.exception("sync run %s stopped on an unexpected error", run_id)
        _fail(session, run_id, "internal_error", "the sync stopped on an unexpected error; "
                                                 "the hub's log has the details")
    return session.get(SyncRun, run_id)


def _tell_webhooks(session: Session, run: SyncRun, written: records.Written) -> None:
    """The run's record events, in the transaction that writes its records."""
    tenant_id = session.get(Integration, run.integration_id).tenant_id
    for change, ids in written.by_change():
        records_changed(session, tenant_id, run.integration_id, run.model, f"record.{change}",
                        ids, run.requested_by)


def _fail(session: Session, run_id: str, code: str, message: str) -> None:
    session.rollback()
    with writing(session):
        run = session.get(SyncRun, run_id)
        if run is not None and run.status in ACTIVE:
            _finish(session, run, "failed", code, message)
            if code in sync_principal.PAUSING:
                sync_principal.pause(session, run, code)


def _record(run: SyncRun, status_: str, code: str | None = None, message: str | None = None) -> None:
    run.status, run.error_code, run.error, run.finished_at = status_, code, message, utcnow()


def _finish(session: Session, run: SyncRun, status_: str, code: str | None = None,
            message: str | None = None) -> None:
    """Record the outcome, release the integration (if this run still held it) and tell
    the webhooks."""
    _record(run, status_, code, message)
    integration = session.get(Integration, run.integration_id)
    webhook_events.emit(session, integration.tenant_id,
                        "sync.completed" if status_ == "succeeded" else "sync.failed", run,
                        actor=run.requested_by)
    session.execute(update(SyncState).where(SyncState.integration_id == run.integration_id,
                                            SyncState.active_run_id == run.id)
                    .values(active_run_id=None, lease_until=None, last_run_id=run.id)
                    .execution_options(synchronize_session=False))


def _hold(session: Session, run: SyncRun, lease_seconds: int) -> None:
    """Extend the run's lease, or stop it when another run took the integration over."""
    held = session.execute(
        update(SyncState).where(SyncState.integration_id == run.integration_id,
                                SyncState.active_run_id == run.id)
        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)).rowcount == 1
    if not held:
        raise SyncFailed("sync_superseded", "another run took the integration over "
                                            "(this one outlived its lease)")


def _fetch(session: Session, run: SyncRun, settings: Settings, pool: urllib3.PoolManager,
           make_session: sessionmaker) -> dict[str, dict]:
    """Every item of the listing by id (a later page wins a repeated id)."""
    user, tenant, found = sync_principal.acting_user(session, run)
    sync_settings = settings_of(found.integration)
    require_enabled(found.integration)
    items: dict[str, dict] = {}
    page = first_page(sync_settings)
    while page is not None:
        if page.number > sync_settings.max_pages:
            raise SyncFailed("sync_too_many_pages",
                             f"the listing has more than {sync_settings.max_pages} pages (maxPages)")
        document, link, url = get_page(session, user, tenant, found, page, settings, pool,
                                       make_session)
        try:
            page_items = items_of(document, sync_settings.items_path)
            for item in page_items:
                items[item_id(item, sync_settings.id_field)] = dict(item)
            following = next_page(sync_settings, page, document, link, len(page_items), url)
        except PageInvalid as invalid:
            raise SyncFailed("sync_page_invalid", f"page {page.number}: {invalid}") from None
        if len(items) > settings.sync_max_records:
            raise SyncFailed("sync_too_many_records",
                             f"the listing has more than {settings.sync_max_records} items "
                             "(HUB_SYNC_MAX_RECORDS)")
        with writing(session):
            _hold(session, run, settings.sync_lease_seconds)
            run.pages += 1
            run.fetched += len(page_items)
        page = following
    return items
