from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from integration_hub.db.base import Base
from integration_hub.db.types import UTCDateTime, created_at


class BrowserSession(Base):
    """A signed-in browser. Its cookie names it by a random id; only the id's SHA-256
    digest is stored, so the table's rows cannot be replayed as cookies. Deleting the
    row ends the session in every process at once."""

    __tablename__ = "browser_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[created_at]
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # for the purge
