from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from integration_hub.db.base import Base
from integration_hub.db.types import UTCDateTime, created_at, uuid_pk


class SyncRun(Base):
    """One sync of an integration's listing into its records: queued, running, then
    succeeded or failed, with what it counted. Never upstream bodies or credentials."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_integration_id_created_at",
                            "integration_id", "created_at"),)

    id: Mapped[uuid_pk]
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(16))       # manual | schedule
    status: Mapped[str] = mapped_column(String(16), default="queued")
    run_as: Mapped[str] = mapped_column(String(64))        # the user whose connection is used
    requested_by: Mapped[str | None] = mapped_column(String(64))
    pages: Mapped[int] = mapped_column(default=0)
    fetched: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    deleted: Mapped[int] = mapped_column(default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at]
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncState(Base):
    """Per integration: which run holds it (a lease, so a lost worker cannot hold it
    forever), the last run, and when the schedule wants the next one."""

    __tablename__ = "sync_states"

    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True)
    active_run_id: Mapped[str | None] = mapped_column(String(36))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_id: Mapped[str | None] = mapped_column(String(36))
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The schedule next_run_at was computed from (None: paused, or no schedule).
    schedule_key: Mapped[str | None] = mapped_column(String(200))
    # Whom every run acts as: the user who last changed or confirmed data.sync, when, and
    # the digest of the data.sync they changed or confirmed (sync/principal.py).
    run_as: Mapped[str | None] = mapped_column(String(64))
    run_as_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settings_digest: Mapped[str | None] = mapped_column(String(64))
    # Why the schedule stopped starting runs (an error code) until it is changed or confirmed.
    paused_code: Mapped[str | None] = mapped_column(String(64))
