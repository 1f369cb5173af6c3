from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from integration_hub.db.base import Base
from integration_hub.db.types import UTCDateTime, created_at, encrypted_secret, updated_at, uuid_pk


class Webhook(Base):
    """A tenant's subscription: which events go to which URL, signed with its secret.

    ``failing_since`` is the first failed attempt after the last success; a webhook
    failing for long enough is switched off and says why in ``disabled_reason``.

    ``integration_id`` and ``model`` narrow the record events it receives (None: every
    integration, every model). A webhook narrowed to an integration is deleted with it
    (ON DELETE CASCADE): set to NULL it would start receiving every integration's records.
    """

    __tablename__ = "webhooks"

    id: Mapped[uuid_pk]
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    integration_id: Mapped[str | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), index=True)
    model: Mapped[str | None] = mapped_column(String(64))
    secret_encrypted: Mapped[encrypted_secret]
    enabled: Mapped[bool] = mapped_column(default=True)
    # The hub's external base URL when the webhook was saved: payload links start with it.
    hub_url: Mapped[str] = mapped_column(Text)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_delivery_status: Mapped[str | None] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class WebhookDelivery(Base):
    """One event for one webhook: the exact body sent (same bytes, same signature on
    every attempt), pending until an attempt succeeds or the attempts run out.

    An attempt holds the delivery with a claim: ``claim_token`` names it and
    ``claimed_until`` is its lease. ``waiting`` marks a due delivery that could not be
    claimed because its webhook or tenant had as many attempts running as allowed; it is
    handed to the queue again when one of them ends.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_webhook_id_created_at", "webhook_id", "created_at"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_claimed_until", "claimed_until"),
    )

    id: Mapped[uuid_pk]
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|succeeded|failed
    attempt_count: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column()
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    waiting: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[list[WebhookAttempt]] = relationship(
        order_by="WebhookAttempt.number", cascade="all, delete-orphan", passive_deletes=True,
        lazy="selectin")


class WebhookAttempt(Base):
    """One HTTP try of a delivery: when, how long, what the receiver answered or what failed.
    Its number is the delivery's attempt count after it, unique per delivery."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("uq_webhook_attempts_delivery_id_number", "delivery_id", "number",
                            unique=True),)

    id: Mapped[uuid_pk]
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column()
    response_status: Mapped[int | None] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(16))  # succeeded | failed
    error_code: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """An administrative action: who did what to which target, when, from where, and
    how it ended. ``detail`` names changed fields, never their secret values. A refused or
    failed attempt repeated within the hour is counted on its first entry (``count``,
    ``last_at``) rather than written again."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_tenant_id_at", "tenant_id", "at"),
        Index("ix_audit_entries_tenant_id_actor", "tenant_id", "actor"),
        Index("ix_audit_entries_tenant_id_action", "tenant_id", "action"),
    )

    id: Mapped[uuid_pk]
    # None for operator actions that concern every tenant (key rotation).
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str | None] = mapped_column(String(64))   # username; None for the CLI
    channel: Mapped[str] = mapped_column(String(16))          # api | cli | worker
    source_ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))          # success | denied | failed
    error_code: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    count: Mapped[int] = mapped_column(default=1)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
