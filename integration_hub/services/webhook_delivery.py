"""Sending deliveries: one signed POST per attempt, every attempt recorded, retries
after doubling waits, and a webhook that keeps failing switched off.

A delivery is claimed with one conditional UPDATE before it is sent, so a task
delivered twice, a retry and the sweep never send the same attempt twice, on
any number of workers. Redirects are not followed (a receiver answers where it
was registered); the outbound network policy of the proxy applies.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import urllib3
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from integration_hub.config import Settings
from integration_hub.db.models import Webhook, WebhookAttempt, WebhookDelivery
from integration_hub.db.session import writing
from integration_hub.db.types import utcnow
from integration_hub.services import crypto
from integration_hub.services.upstream_http import DeniedAddress
from integration_hub.services.webhook_rules import (
    PING,
    SIGNATURE_HEADER,
    failing_too_long,
    retry_delay,
    signature,
)

log = logging.getLogger(__name__)
USER_AGENT = "integration-hub-webhooks/1"
# A lost worker's claim runs out after the longest an attempt can take, plus slack.
CLAIM_SLACK = timedelta(seconds=30)
# The sweep leaves alone deliveries a scheduled task should pick up any moment now.
SWEEP_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class AttemptResult:
    succeeded: bool
    status: int | None
    error_code: str | None
    error: str | None
    duration_ms: int


def claim(session: Session, delivery_id: str, now: datetime, hold: timedelta) -> bool:
    """Take a due, pending delivery for one attempt; False when it is not due or taken."""
    with writing(session):
        taken = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending",
                   WebhookDelivery.next_attempt_at <= now,
                   (WebhookDelivery.claimed_until.is_(None)) | (WebhookDelivery.claimed_until < now))
            .values(claimed_until=now + hold)).rowcount
    return taken == 1


def attempt(session: Session, delivery_id: str, settings: Settings, pool: urllib3.PoolManager,
            now: datetime | None = None) -> timedelta | None:
    """Make the next attempt of a delivery if it is due and free. Answers how long to
    wait before the next attempt (a retry is wanted), else None."""
    now = now or utcnow()
    hold = timedelta(seconds=2 * settings.webhook_timeout_seconds) + CLAIM_SLACK
    if not claim(session, delivery_id, now, hold):
        return None
    delivery = session.get(WebhookDelivery, delivery_id, populate_existing=True)
    hook = session.get(Webhook, delivery.webhook_id, populate_existing=True)
    session.commit()  # hold no transaction open while the receiver answers
    if not hook.enabled and delivery.event_type != PING:
        with writing(session):
            _close(delivery, "failed", now)
            delivery.claimed_until = None
        return None
    result = send(hook, delivery, settings, pool)
    with writing(session):
        return _settle(session, hook, delivery, result, now, settings)


def send(hook: Webhook, delivery: WebhookDelivery, settings: Settings,
         pool: urllib3.PoolManager) -> AttemptResult:
    body = delivery.body.encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-Hub-Event": delivery.event_type, "X-Hub-Event-Id": delivery.event_id,
               "X-Hub-Delivery": delivery.id,
               SIGNATURE_HEADER: signature(crypto.decrypt(hook.secret_encrypted) or "", body)}
    timeout = urllib3.Timeout(connect=min(5.0, settings.webhook_timeout_seconds),
                              read=settings.webhook_timeout_seconds)
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        answer = pool.request("POST", hook.url, body=body, headers=headers, timeout=timeout,
                              redirect=False, retries=False, preload_content=False)
        try:
            answer.read(64 * 1024, decode_content=False)  # let the connection be reused
        finally:
            answer.release_conn()
    except urllib3.exceptions.HTTPError as failure:
        code, message = _transport_failure(failure)
        return AttemptResult(False, None, code, message, elapsed())
    if 200 <= answer.status < 300:
        return AttemptResult(True, answer.status, None, None, elapsed())
    if 300 <= answer.status < 400:
        return AttemptResult(False, answer.status, "receiver_redirected",
                             f"the receiver answered {answer.status}; redirects are not followed",
                             elapsed())
    return AttemptResult(False, answer.status, "receiver_error",
                         f"the receiver answered {answer.status}", elapsed())


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


def _settle(session: Session, hook: Webhook, delivery: WebhookDelivery, result: AttemptResult,
            now: datetime, settings: Settings) -> timedelta | None:
    delivery.attempt_count += 1
    delivery.claimed_until = None
    session.add(WebhookAttempt(delivery_id=delivery.id, number=delivery.attempt_count,
                               started_at=now, duration_ms=result.duration_ms,
                               response_status=result.status,
                               outcome="succeeded" if result.succeeded else "failed",
                               error_code=result.error_code, error=result.error))
    is_ping = delivery.event_type == PING
    if not is_ping:
        hook.last_delivery_at, hook.last_delivery_status = now, (
            "succeeded" if result.succeeded else "failed")
    if result.succeeded:
        _close(delivery, "delivered", now)
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
