"""Sending deliveries: one signed POST per attempt, every attempt recorded, retries
after doubling waits, and a webhook that keeps failing switched off.

An attempt has ``HUB_WEBHOOK_TIMEOUT`` for all of it, from connecting to the answer's
head and first 64 KiB, however slowly a receiver sends its bytes (``deadlines.Deadline``):
then the connection is shut down and the attempt recorded as ``receiver_timeout``. Before sending
it claims the delivery (``webhook_claims``), so a task delivered twice, a retry and the
sweep never send the same delivery at the same time, and a receiver or tenant with slow
attempts running holds only so many of them. Its number is taken by incrementing the
delivery's count in the database, so two attempts never get the same one. Redirects are
not followed (a receiver answers where it was registered); the outbound network policy
of the proxy applies.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import urllib3
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from integration_hub import crypto
from integration_hub.config import Settings
from integration_hub.db.locks import serialise_tenant_writes
from integration_hub.db.models import Webhook, WebhookAttempt, WebhookDelivery
from integration_hub.db.session import writing
from integration_hub.db.types import utcnow
from integration_hub.outbound.deadlines import Deadline
from integration_hub.outbound.upstream_http import DeniedAddress
from integration_hub.webhooks import claims as webhook_claims
from integration_hub.webhooks import events as webhook_events
from integration_hub.webhooks.rules import PING, SIGNATURE_HEADER, failing_too_long, retry_delay, signature

log = logging.getLogger(__name__)
USER_AGENT = "integration-hub-webhooks/1"
# The sweep leaves alone deliveries a scheduled task should pick up any moment now.
SWEEP_GRACE = timedelta(seconds=60)
ANSWER_READ = 64 * 1024  # bytes of an answer read (to reuse the connection), never kept


@dataclass(frozen=True)
class AttemptResult:
    succeeded: bool
    status: int | None
    error_code: str | None
    error: str | None
    duration_ms: int


def attempt(session: Session, delivery_id: str, settings: Settings, pool: urllib3.PoolManager,
            now: datetime | None = None) -> timedelta | None:
    """Make the next attempt of a delivery if it is due, free and has a slot. Answers how
    long to wait before the next attempt (a retry is wanted), else None. Deliveries that
    waited for the slot this attempt frees are handed to the queue."""
    now = now or utcnow()
    deadline = Deadline(settings.webhook_timeout_seconds)  # sending ends within the lease
    claim = webhook_claims.take(session, delivery_id, now, settings)
    if claim is None:
        return None
    delivery = session.get(WebhookDelivery, delivery_id, populate_existing=True)
    hook = session.get(Webhook, claim.webhook_id, populate_existing=True)
    session.commit()  # hold no transaction open while the receiver answers
    if delivery is None or hook is None:  # the webhook was deleted meanwhile
        return None
    if not hook.enabled and delivery.event_type != PING:
        with writing(session):
            if webhook_claims.release(session, claim):
                _close(delivery, "failed", now)
        wait = None
    else:
        wait = _settle(session, claim, send(hook, delivery, settings, pool, deadline), now,
                       settings)
    webhook_events.dispatch(webhook_claims.waiting(session, claim.tenant_id, now, settings))
    return wait


def send(hook: Webhook, delivery: WebhookDelivery, settings: Settings,
         pool: urllib3.PoolManager, deadline: Deadline | None = None) -> AttemptResult:
    """One POST, ended at ``deadline`` (``HUB_WEBHOOK_TIMEOUT`` from now when not given)."""
    deadline = deadline or Deadline(settings.webhook_timeout_seconds)
    body = delivery.body.encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-Hub-Event": delivery.event_type, "X-Hub-Event-Id": delivery.event_id,
               "X-Hub-Delivery": delivery.id,
               SIGNATURE_HEADER: signature(crypto.decrypt(hook.secret_encrypted) or "", body)}
    timeout = urllib3.Timeout(connect=min(5.0, deadline.seconds), read=deadline.seconds)
    started = time.monotonic()
    answer = failure = None
    with deadline.applies():
        try:
            answer = pool.request("POST", hook.url, body=body, headers=headers, timeout=timeout,
                                  redirect=False, retries=False, preload_content=False)
            try:
                answer.read(ANSWER_READ, decode_content=False)  # let the connection be reused
            finally:
                answer.release_conn()
        except (urllib3.exceptions.HTTPError, OSError) as error:
            failure = error
    elapsed = int((time.monotonic() - started) * 1000)
    if deadline.stop():  # whatever the shutdown made of the call
        return AttemptResult(False, None, "receiver_timeout",
                             f"the receiver did not answer within {deadline.seconds:g} s",
                             elapsed)
    if failure is not None:
        code, message = _transport_failure(failure)
        return AttemptResult(False, None, code, message, elapsed)
    if 200 <= answer.status < 300:
        return AttemptResult(True, answer.status, None, None, elapsed)
    if 300 <= answer.status < 400:
        return AttemptResult(False, answer.status, "receiver_redirected",
                             f"the receiver answered {answer.status}; redirects are not followed",
                             elapsed)
    return AttemptResult(False, answer.status, "receiver_error",
                         f"the receiver answered {answer.status}", elapsed)


def _transport_failure(failure: Exception) -> tuple[str, str]:
    reason = getattr(failure, "reason", None)
    cause = reason if isinstance(reason, Exception) else failure
    if isinstance(cause, DeniedAddress):
        return ("receiver_address_denied", "the receiver's address is private, loopback or "
                "link-local, and HUB_PROXY_DENY_PRIVATE is on")
    if (isinstance(cause, urllib3.exceptions.TimeoutError)
            and not isinstance(cause, urllib3.exceptions.NewConnectionError)):
        return "receiver_timeout", "the receiver did not answer in time"
    return "receiver_unreachable", "the receiver refused or dropped the connection"


def _settle(session: Session, claim: webhook_claims.Claim, result: AttemptResult,
            now: datetime, settings: Settings) -> timedelta | None:
    with writing(session):
        serialise_tenant_writes(session, claim.tenant_id)
        # The webhook's row before the delivery's, as deleting the webhook takes them.
        hook = session.get(Webhook, claim.webhook_id, populate_existing=True,
                           with_for_update={"key_share": True})
        if hook is None:  # deleted meanwhile, with its deliveries
            return None
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == claim.delivery_id)
                        .values(attempt_count=WebhookDelivery.attempt_count + 1)
                        .execution_options(synchronize_session=False))
        delivery = session.get(WebhookDelivery, claim.delivery_id, populate_existing=True)
        session.add(WebhookAttempt(delivery_id=delivery.id, number=delivery.attempt_count,
                                   started_at=now, duration_ms=result.duration_ms,
                                   response_status=result.status,
                                   outcome="succeeded" if result.succeeded else "failed",
                                   error_code=result.error_code, error=result.error))
        if not webhook_claims.release(session, claim):
            log.warning("webhook delivery %s: attempt %d ended after another took it over; "
                        "recorded, the newer attempt settles the delivery", delivery.id,
                        delivery.attempt_count)
            return None
        return _outcome(hook, delivery, result, now, settings)


def _outcome(hook: Webhook, delivery: WebhookDelivery, result: AttemptResult, now: datetime,
             settings: Settings) -> timedelta | None:
    is_ping = delivery.event_type == PING
    if not is_ping:
        hook.last_delivery_at, hook.last_delivery_status = now, (
            "succeeded" if result.succeeded else "failed")
    if result.succeeded:
        _close(delivery, "succeeded", now)
        if not is_ping:
            hook.failing_since = None
        return None
    if not is_ping:
        hook.failing_since = hook.failing_since or now
        limit = timedelta(hours=settings.webhook_disable_after_hours)
        if hook.enabled and failing_too_long(hook.failing_since, now, limit):
            hook.enabled = False
            hook.disabled_at = now
            hook.disabled_reason = (
                f"every delivery since {hook.failing_since.isoformat()} failed "
                f"(last: {result.error}); fix the receiver, then enable the webhook again")
            log.warning("webhook %s switched off after failing since %s", hook.id,
                        hook.failing_since.isoformat())
    if delivery.attempt_count >= delivery.max_attempts or not hook.enabled and not is_ping:
        _close(delivery, "failed", now)
        return None
    wait = retry_delay(delivery.attempt_count, settings.webhook_retry_base_seconds)
    delivery.next_attempt_at = now + wait
    return wait


def _close(delivery: WebhookDelivery, status: str, now: datetime) -> None:
    delivery.status = status
    delivery.completed_at = now
    delivery.next_attempt_at = None


def due(session: Session, now: datetime, limit: int = 500) -> list[str]:
    """Pending deliveries whose attempt is overdue and unclaimed: their task was lost
    (the queue was down when the change committed, or a worker died)."""
    return list(session.scalars(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == "pending",
               WebhookDelivery.next_attempt_at <= now - SWEEP_GRACE,
               (WebhookDelivery.claimed_until.is_(None)) | (WebhookDelivery.claimed_until < now))
        .order_by(WebhookDelivery.next_attempt_at).limit(limit)))


def prune(session: Session, now: datetime, retention_days: int) -> int:
    """Forget finished deliveries (and their attempts) older than the retention."""
    with writing(session):
        return session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.status != "pending",
                                          WebhookDelivery.created_at < now - timedelta(
                                              days=retention_days))).rowcount
