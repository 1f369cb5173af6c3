from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from integration_hub.db.base import Base
from integration_hub.db.types import created_at, json_object, updated_at


class Tenant(Base):
    """An isolated organisation; every other row belongs to exactly one."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    settings: Mapped[json_object]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    def setting(self, name: str, default: Any = None) -> Any:
        return (self.settings or {}).get(name, default)

    def __repr__(self) -> str:
        return f"<Tenant {self.id}>"

