from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from integration_hub.db.base import Base
from integration_hub.db.models.user import User
from integration_hub.db.types import UTCDateTime, created_at, uuid_pk


class ApiToken(Base):
    """A hub API token. Only its SHA-256 digest is stored; the token is shown once.

    A token made with another token names it as ``parent_id``: deleting (revoking) the
    parent deletes it too, in the database, and so on down the line; its ``expires_at``
    was clamped to the parent's when it was made (identity/tokens.py).
    """

    __tablename__ = "api_tokens"

    id: Mapped[uuid_pk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so people can tell their tokens apart in listings.
    prefix: Mapped[str] = mapped_column(String(16))
    # Scope names in their order, separated by spaces (identity/token_scopes.py writes it).
    scopes_text: Mapped[str] = mapped_column("scopes", String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[created_at]

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def scopes(self) -> list[str]:
        return self.scopes_text.split()
