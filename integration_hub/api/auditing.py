"""Audited views: ``@audited(action, target_type, target)`` marks a view as an
administrative action.

The view records its success with ``audit_success(session, target_id, **detail)``
inside the transaction that makes the change (so the entry commits with it). When
the view raises a hub error instead, the decorator records the refused (403) or
failed attempt in a transaction of its own and lets the error through.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app, g
from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.audit import entries as audit
from integration_hub.db.models import AuditEntry
from integration_hub.edge.security import current_actor


@dataclass
class _Scope:
    action: str
    target_type: str | None
    target_id: str | None


def audited(action: str, target_type: str | None = None,
            target: str | Callable[[], str] | None = None) -> Callable:
    """``target`` names the view argument holding the target's id, or is a function
    answering it (e.g. the caller's tenant)."""
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            target_id = target() if callable(target) else kwargs.get(target) if target else None
            g.audit_scope = _Scope(action, target_type, target_id)
            try:
                return view(*args, **kwargs)
            except errors.HubError as failure:
                _record_failure(g.audit_scope, failure)
                raise
            finally:
                g.pop("audit_scope", None)

        return wrapper

    return decorate


def audit_success(session: Session, target_id: str | None = None,
                  **detail: Any) -> AuditEntry:
    """The current audited view's action succeeded (call inside its transaction)."""
    scope: _Scope = g.audit_scope  # AttributeError: the view is not marked @audited
    if target_id is not None:
        scope.target_id = str(target_id)
    return audit.record(session, current_actor(), scope.action, scope.target_type,
                        scope.target_id, detail)


def _record_failure(scope: _Scope, failure: errors.HubError) -> None:
    user = g.get("user")
    if user is None:  # not signed in: nobody to name
        return
    outcome = "denied" if failure.status == 403 else "failed"
    audit.record_attempt(current_app.extensions["integration_hub.db"], audit.Actor.of(user),
                         scope.action, scope.target_type, scope.target_id, outcome, failure.code)
