"""How long the logs are kept: audit entries for ``HUB_AUDIT_RETENTION_DAYS``, the proxy's
request log for ``HUB_REQUEST_LOG_RETENTION_DAYS``; 0 keeps them for ever.

The queue's hourly task (``logs.prune``) deletes older rows in batches of ``BATCH``, each
in a transaction of its own, oldest first, found by an index on their time: a table is
never locked for long, however much there is to forget. One run deletes at most
``MAX_BATCHES`` batches per table; the rest goes an hour later. An aggregated audit entry
(repeated refusals) goes with its first occurrence. Started OAuth flows (``oauth_states``:
digests and an encrypted PKCE verifier) are forgotten a day after they expire, used or
not: by then a replayed callback finds no flow and is refused the same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, inspect, select
from sqlalchemy.orm import sessionmaker

from integration_hub.config import Settings
from integration_hub.db.models import AuditEntry, OAuthState, ProxyRequest
from integration_hub.db.session import writing

BATCH = 1000
MAX_BATCHES = 100
FLOWS_KEPT = timedelta(days=1)  # after a started OAuth flow expires


def prune_logs(make_session: sessionmaker, settings: Settings, now: datetime,
               batch: int = BATCH) -> dict[str, int]:
    """Delete what is past its retention, and OAuth flows a day past their expiry; answers
    how many rows went, per table pruned."""
    gone = {}
    for model, when, days in ((AuditEntry, AuditEntry.at, settings.audit_retention_days),
                              (ProxyRequest, ProxyRequest.created_at,
                               settings.request_log_retention_days)):
        if days > 0:
            gone[model.__tablename__] = delete_older(make_session, model, when,
                                                     now - timedelta(days=days), batch)
    gone[OAuthState.__tablename__] = delete_older(make_session, OAuthState,
                                                  OAuthState.expires_at, now - FLOWS_KEPT,
                                                  batch)
    return gone


def delete_older(make_session: sessionmaker, model: Any, when: ColumnElement,
                 cutoff: datetime, batch: int = BATCH, max_batches: int = MAX_BATCHES) -> int:
    """Delete rows of ``model`` whose ``when`` is before ``cutoff``, ``batch`` at a time."""
    (key,) = inspect(model).primary_key
    total = 0
    for _ in range(max_batches):
        with make_session() as session, writing(session):
            chosen = list(session.scalars(select(key).where(when < cutoff)
                                          .order_by(when).limit(batch)))
            if chosen:
                session.execute(delete(model).where(key.in_(chosen)),
                                execution_options={"synchronize_session": False})
        total += len(chosen)
        if len(chosen) < batch:
            break
    return total
