"""The audit log and the proxy's request log are kept for a while, not forever
(``HUB_AUDIT_RETENTION_DAYS``, ``HUB_REQUEST_LOG_RETENTION_DAYS``; 0 keeps everything):
a periodic task of the queue deletes older rows in bounded batches, found by an index on
their time."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select

from integration_hub.audit import retention
from integration_hub.db.models import AuditEntry, OAuthState, ProxyRequest, User
from integration_hub.db.types import utcnow
from integration_hub.queue import job_queue


def aged(session, integration: str, audit_days: list[float], request_days: list[float]) -> None:
    """Audit entries and request-log rows this many days old."""
    now = utcnow()
    for number, days in enumerate(audit_days):
        session.add(AuditEntry(tenant_id="default" if number % 2 else None,
                               at=now - timedelta(days=days), actor="root", channel="api",
                               action="integration.update", target_type="integration",
                               target_id=integration, outcome="success", detail={}))
    for days in request_days:
        session.add(ProxyRequest(integration_id=integration, username="root", method="GET",
                                 path="/v1/things", status=200,
                                 created_at=now - timedelta(days=days)))
    session.commit()


def ages(session) -> tuple[list[int], list[int]]:
    now = utcnow()
    return (sorted((now - at).days for at in session.scalars(select(AuditEntry.at))),
            sorted((now - at).days for at in session.scalars(select(ProxyRequest.created_at))))


def test_the_periodic_task_forgets_what_is_older_than_the_retention(app, session, admin,
                                                                   make_integration):
    settings = app.config["HUB_SETTINGS"]
    keep_audit, keep_requests = settings.audit_retention_days, settings.request_log_retention_days
    assert keep_audit > keep_requests > 0  # the defaults keep both, the audit log longer
    integration = make_integration("Logged")
    aged(session, integration, [keep_audit + 1] * 3 + [keep_audit - 1, 1],
         [keep_requests + 1] * 4 + [keep_requests - 1, 0])

    job_queue(app).prune_logs.call_local()

    assert ages(session) == ([1, keep_audit - 1], [0, keep_requests - 1])


def test_pruning_goes_in_batches_until_nothing_old_is_left(app, session, admin,
                                                          make_integration):
    integration = make_integration("Logged")
    aged(session, integration, [400] * 7 + [2], [40] * 5 + [2])
    short = dataclasses.replace(app.config["HUB_SETTINGS"], audit_retention_days=30,
                                request_log_retention_days=30)
    make_session = app.extensions["integration_hub.db"]

    assert retention.prune_logs(make_session, short, utcnow(), batch=3) == {
        "audit_entries": 7, "proxy_requests": 5, "oauth_states": 0}
    assert ages(session) == ([2], [2])


def test_zero_keeps_everything(app, session, admin, make_integration):
    integration = make_integration("Logged")
    aged(session, integration, [4000, 1], [4000, 1])
    forever = dataclasses.replace(app.config["HUB_SETTINGS"], audit_retention_days=0,
                                  request_log_retention_days=0)

    retention.prune_logs(app.extensions["integration_hub.db"], forever, utcnow())
    assert ages(session) == ([1, 4000], [1, 4000])


def test_started_oauth_flows_are_forgotten_a_day_after_they_expire(app, session, admin,
                                                                   make_integration):
    integration = make_integration("Provider")
    user_id = session.scalar(select(User.id).where(User.username == admin.username))
    now = utcnow()
    for name, expired_ago, used in (("long-gone", timedelta(days=3), False),
                                    ("used-long-ago", timedelta(days=2), True),
                                    ("just-expired", timedelta(hours=2), False),
                                    ("running", -timedelta(minutes=5), False)):
        session.add(OAuthState(state_hash=name.ljust(64, "0"), integration_id=integration,
                               user_id=user_id, code_verifier_encrypted="x",
                               redirect_uri="http://hub.test/oauth2/callback",
                               expires_at=now - expired_ago,
                               used_at=now - expired_ago if used else None))
    session.commit()

    job_queue(app).prune_logs.call_local()

    session.expire_all()
    assert sorted(h.rstrip("0") for h in session.scalars(select(OAuthState.state_hash))) == [
        "just-expired", "running"]


@pytest.mark.parametrize("table, column", [("audit_entries", "at"),
                                           ("proxy_requests", "created_at")])
def test_old_rows_are_found_by_an_index_on_their_time(app, table, column):
    engine = app.extensions["integration_hub.db"].kw["bind"]
    leading = [index["column_names"][0] for index in inspect(engine).get_indexes(table)]
    assert column in leading
