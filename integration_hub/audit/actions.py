"""An audited use case: its success is an entry in the transaction that makes the change,
its refusal or failure an entry of its own (docs/security.md, "Audit log").

    def create_team(actor: Actor, values) -> Team:
        with audited(actor, "team.create", "team") as action, transaction() as session:
            ...
            action.succeeded(session, team.principal_id, name=team.name)

The transaction is entered after ``audited``, so on an error it has rolled back before
the attempt is written; a caller who is not signed in has nobody to name and leaves none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.audit import entries
from integration_hub.audit.entries import Actor
from integration_hub.db.models import AuditEntry


@dataclass
class AuditedAction:
    actor: Actor
    action: str
    target_type: str | None
    target_id: str | None

    def succeeded(self, session: Session, target_id: Any = None, **detail: Any) -> AuditEntry:
        """The action succeeded: its entry joins the session's transaction. ``target_id``
        names the target when it was not known before (a created object's id)."""
        if target_id is not None:
            self.target_id = str(target_id)
        return entries.record(session, self.actor, self.action, self.target_type,
                              self.target_id, detail)


@contextmanager
def audited(actor: Actor, action: str, target_type: str | None = None,
            target_id: Any = None) -> Iterator[AuditedAction]:
    scope = AuditedAction(actor, action, target_type,
                          None if target_id is None else str(target_id))
    try:
        yield scope
    except errors.HubError as failure:
        if actor.username is not None:  # not signed in: nobody to name
            outcome = "denied" if failure.status == 403 else "failed"
            entries.record_attempt(current_app.extensions["integration_hub.db"], actor,
                                   scope.action, scope.target_type, scope.target_id, outcome,
                                   failure.code)
        raise
