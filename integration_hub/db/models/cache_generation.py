from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from integration_hub.db.base import Base


class CacheGeneration(Base):
    """The one row (``id`` 1) whose value moves with every committed change the proxy's
    caches depend on, on SQLite (``db/generations.py``; docs/decisions.md, "Performance")."""

    __tablename__ = "cache_generations"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)
