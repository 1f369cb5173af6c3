from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from integration_hub.db.base import Base
from integration_hub.db.types import UTCDateTime, created_at, json_list, json_object, updated_at

TEAM_PREFIX = "team:"


class User(Base):
    """A person or service account; its principal id is ``username``."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "username"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(128), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    fields: Mapped[json_object]
    superuser: Mapped[bool] = mapped_column(default=False)
    permissions: Mapped[json_list]
    password_hash: Mapped[str | None] = mapped_column(String(256))
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    memberships: Mapped[list[TeamMember]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True)

    @property
    def principal_id(self) -> str:
        return self.username

    def has_permission(self, permission: str) -> bool:
        return self.superuser or permission in (self.permissions or [])

    def __repr__(self) -> str:
        return f"<User {self.tenant_id}/{self.username}>"


class Team(Base):
    """A group of users; its principal id is ``team:<slug>``."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("tenant_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(1024), default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", cascade="all, delete-orphan", passive_deletes=True,
        order_by="TeamMember.user_id")

    @property
    def principal_id(self) -> str:
        return TEAM_PREFIX + self.slug

    def __repr__(self) -> str:
        return f"<Team {self.tenant_id}/{self.slug}>"


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"),
                                         primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16), default="member")

    team: Mapped[Team] = relationship(back_populates="members")
    user: Mapped[User] = relationship(back_populates="memberships", lazy="joined")


class RetiredPrincipal(Base):
    """The principal id of a deleted user or team: never given to anyone else in its
    tenant, so a grant that still names it can never reach a newcomer
    (docs/security.md, "Deleted principals")."""

    __tablename__ = "retired_principals"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"),
                                           primary_key=True)
    principal_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # user | team
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime)
