from __future__ import annotations

from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from integration_hub.db.base import Base
from integration_hub.db.types import created_at, uuid_pk


class Tag(Base):
    """A tenant-wide label for integrations."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[uuid_pk]
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    color: Mapped[str | None] = mapped_column(String(16))
    # Username of the creator, who may change or delete the tag besides superusers.
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[created_at]


integration_tags = Table(
    "integration_tags", Base.metadata,
    Column("integration_id", ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)
