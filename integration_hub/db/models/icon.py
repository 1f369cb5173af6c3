from __future__ import annotations

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from integration_hub.db.base import Base
from integration_hub.db.types import updated_at


class IntegrationIcon(Base):
    """An uploaded icon, kept in the database so every machine serves it."""

    __tablename__ = "integration_icons"

    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[updated_at]

