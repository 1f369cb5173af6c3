"""Database layer: the typed declarative base, column types and session handling."""

from integration_hub.db.base import Base

__all__ = ["Base"]
