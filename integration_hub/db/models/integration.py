from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from integration_hub.db.base import Base
from integration_hub.db.models.tag import Tag
from integration_hub.db.types import created_at, encrypted_secret, json_object, updated_at, uuid_pk


class Integration(Base):
    """A registered external system: how to authorise against it and where to call it.

    Secrets are Fernet ciphertext (``*_encrypted``), written and read only
    through ``crypto``.
    """

    __tablename__ = "integrations"
    __table_args__ = (UniqueConstraint("tenant_id", "slug"),
                      # Lists are ordered case-insensitively by name, then id; with the
                      # flag and the owner, SQLite skips unreadable rows in the index alone.
                      Index("ix_integrations_tenant_id_lower_name", "tenant_id",
                            func.lower(text("name")), "id", "embedded", "owner_id"),
                      # Counting a list checks the tenant and flag of each readable id in
                      # this index alone, never in the table.
                      Index("ix_integrations_id_tenant_id_embedded", "id", "tenant_id",
                            "embedded"))

    id: Mapped[uuid_pk]
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    slug: Mapped[str] = mapped_column(String(140))
    type: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    mode: Mapped[str] = mapped_column(String(16), default="per-user")
    auth_type: Mapped[str] = mapped_column(String(16), default="oauth2")
    enabled: Mapped[bool] = mapped_column(default=True)
    embedded: Mapped[bool] = mapped_column(default=False)
    scope: Mapped[str | None] = mapped_column(Text)
    auth_uri: Mapped[str | None] = mapped_column(String(2048))
    token_uri: Mapped[str | None] = mapped_column(String(2048))
    revocation_uri: Mapped[str | None] = mapped_column(String(2048))
    user_info_uri: Mapped[str | None] = mapped_column(String(2048))
    api_base_uri: Mapped[str | None] = mapped_column(String(2048))
    client_id: Mapped[str | None] = mapped_column(String(512))
    client_secret_encrypted: Mapped[encrypted_secret]
    basic_token_auth: Mapped[bool] = mapped_column(default=False)
    api_key_encrypted: Mapped[encrypted_secret]
    api_key_location: Mapped[str] = mapped_column(String(16), default="header")
    api_key_name: Mapped[str] = mapped_column(String(128), default="X-API-Key")
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    data: Mapped[json_object]
    credentials_encrypted: Mapped[encrypted_secret]
    image_url: Mapped[str | None] = mapped_column(String(2048))
    # An icon was uploaded (kept in integration_icons); saves a query per listed item.
    has_icon: Mapped[bool] = mapped_column(default=False)
    owner_id: Mapped[str] = mapped_column(String(80), index=True)
    supports_upload: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    shares: Mapped[list[IntegrationShare]] = relationship(
        back_populates="integration", cascade="all, delete-orphan", passive_deletes=True,
        order_by="IntegrationShare.principal_id")
    tags: Mapped[list[Tag]] = relationship(
        secondary="integration_tags", order_by="Tag.name", passive_deletes=True)

    # Not a column: the access level of the caller this integration was loaded for
    # (integrations.acl.Access), set by the service that checked it. Its representation
    # offers only the links and forms that level allows; None offers the read level's.
    caller_access = None

    @property
    def has_client_secret(self) -> bool:
        return self.client_secret_encrypted is not None

    @property
    def has_api_key(self) -> bool:
        return self.api_key_encrypted is not None

    @property
    def has_credentials(self) -> bool:
        return self.credentials_encrypted is not None

    def __repr__(self) -> str:
        return f"<Integration {self.tenant_id}/{self.slug}>"


class IntegrationShare(Base):
    """Access to an integration granted to a principal (user or team)."""

    __tablename__ = "integration_shares"
    # The integrations shared with a principal, read from the index alone.
    __table_args__ = (Index("ix_integration_shares_principal_id_integration_id",
                            "principal_id", "integration_id"),)

    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True)
    principal_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    access_level: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[created_at]

    integration: Mapped[Integration] = relationship(back_populates="shares")

