from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from integration_hub.db.base import Base
from integration_hub.db.types import UTCDateTime, created_at, updated_at

# JSONB on PostgreSQL: compact, and ``sum`` reads numbers out of it in SQL.
RecordData = JSON().with_variant(JSONB(), "postgresql")


class Record(Base):
    """One stored item of an integration: ``(integration, model, recordId) -> data``.

    Imports and syncs upsert by id; a sync marks items gone upstream as deleted
    (``deleted_at``) rather than removing them, so their history stays readable.
    """

    __tablename__ = "records"
    # Counting a model's live records reads this index alone, never the rows' data.
    __table_args__ = (Index("ix_records_live", "integration_id", "model", "record_id",
                            sqlite_where=sql_text("deleted_at IS NULL"),
                            postgresql_where=sql_text("deleted_at IS NULL")),)

    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(RecordData)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    # Set when the record is read for a request, not columns: the caller's access to the
    # integration (its forms offer what that allows), and the data fields a page shows
    # (``fields``; None: all).
    caller_access = None
    shown_fields = None


class RecordLineage(Base):
    """One edge of lineage between two records of an integration: ``upstream`` feeds
    ``downstream`` (a table a dashboard is built on, say). Either record may be missing
    from the store: lineage is imported as told, and read with whether each end exists.
    """

    __tablename__ = "record_lineages"
    __table_args__ = (Index("ix_record_lineages_downstream", "integration_id",
                            "downstream_model", "downstream_id"),)

    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True)
    upstream_model: Mapped[str] = mapped_column(String(64), primary_key=True)
    upstream_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    downstream_model: Mapped[str] = mapped_column(String(64), primary_key=True)
    downstream_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    created_at: Mapped[created_at]

