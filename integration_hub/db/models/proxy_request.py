from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from integration_hub.db.base import Base
from integration_hub.db.types import created_at, uuid_pk


class ProxyRequest(Base):
    """One proxied call: what, by whom, how it went. Never headers, bodies or query values."""

    __tablename__ = "proxy_requests"
    __table_args__ = (Index("ix_proxy_requests_integration_id_created_at",
                            "integration_id", "created_at"),
                      Index("ix_proxy_requests_created_at", "created_at"))

    id: Mapped[uuid_pk]
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2048))
    status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(64))
    duration_ms: Mapped[int] = mapped_column(default=0)
    bytes_sent: Mapped[int] = mapped_column(default=0)
    bytes_received: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[created_at]
