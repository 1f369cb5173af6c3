"""Sync use cases: start a run now, take the sync over as it is, and read its state and
runs; one call per view, the acting principal built at the edge.

A run started here is claimed in its transaction and handed to the task queue once that
has committed: a worker never looks for a run that is not there yet. The queue's enqueue
function is set by the queue itself (``ENQUEUE_EXTENSION``), as for webhook deliveries.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from integration_hub.audit.actions import audited
from integration_hub.audit.entries import Actor
from integration_hub.config import current_settings
from integration_hub.db.models import Integration, SyncRun, User
from integration_hub.db.session import db_session, transaction
from integration_hub.integrations import store as integrations
from integration_hub.sync import runs, schedules

# Set by the task queue: enqueues a claimed run by its id.
ENQUEUE_EXTENSION = "integration_hub.sync_enqueue"


def start_run(actor: Actor, integration_id: str) -> SyncRun:
    """``POST .../sync`` (write access): a queued run; 409 while one is queued or running,
    503 when the queue cannot take it (the claim is given up then)."""
    with transaction() as session:
        found = integrations.find(session, actor.user, integration_id)
        run = runs.trigger(session, actor.user, found, current_settings().sync_lease_seconds)
    try:
        current_app.extensions[ENQUEUE_EXTENSION](run.id)
    except Exception as failure:  # the queue's storage is down: do not leave a claim behind
        runs.abandon(db_session(), run.id, "queue_unavailable",
                     "the task queue is not reachable")
        raise runs.QueueUnavailable() from failure
    return run


def confirm(actor: Actor, integration_id: str) -> dict[str, Any]:
    """Take the sync over as it is (write access): every run acts as the actor from now
    on, and a paused schedule resumes. Answers the sync's state afterwards."""
    with audited(actor, "sync.confirm", "integration", integration_id) as action, \
            transaction() as session:
        found = integrations.find(session, actor.user, integration_id)
        schedules.confirm(session, actor.user, found)
        action.succeeded(session, found.integration.id)
    return runs.status(db_session(), found)


# -- reading ------------------------------------------------------------------------------------

def status(session: Session, user: User, integration_id: str) -> dict[str, Any]:
    return runs.status(session, integrations.find(session, user, integration_id))


def runs_page(session: Session, user: User, integration_id: str, start: int,
              limit: int) -> tuple[Integration, list[SyncRun], int]:
    """The integration's runs, newest first, with the integration (its id names the page)."""
    found = integrations.find(session, user, integration_id)
    items, total = runs.list_runs(session, found, start, limit)
    return found.integration, items, total


def get_run(session: Session, user: User, integration_id: str, run_id: str) -> SyncRun:
    return runs.get_run(session, integrations.find(session, user, integration_id), run_id)
