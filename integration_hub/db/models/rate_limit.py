from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from integration_hub.db.base import Base


class RateLimitCounter(Base):
    """Calls counted in one fixed window, shared by every worker on every machine."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(primary_key=True)  # epoch seconds
    count: Mapped[int] = mapped_column(default=0)
    # Epoch seconds when the window ends: windows differ in length (proxy/rate_limits.py).
    expires_at: Mapped[int] = mapped_column(index=True)
