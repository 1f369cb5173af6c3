from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from integration_hub.db.base import Base
from integration_hub.db.models.integration import Integration
from integration_hub.db.types import UTCDateTime, created_at, encrypted_secret, updated_at, uuid_pk

SHARED_HOLDER = "*"


class Connection(Base):
    """Credentials for one integration held by one user, or the one shared connection.

    Token values and credentials are Fernet ciphertext, read only through
    ``crypto``; answers show status and timestamps, never secrets.
    """

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("integration_id", "holder"),)

    id: Mapped[uuid_pk]
    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), index=True)
    # Whose connection it is: the username (per-user mode) or "*" (the shared one).
    holder: Mapped[str] = mapped_column(String(80))
    # The user who connected it.
    owner_id: Mapped[str] = mapped_column(String(80))
    is_shared: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(24), default="active")
    scope: Mapped[str | None] = mapped_column(Text)
    token_type: Mapped[str | None] = mapped_column(String(32))
    access_token_encrypted: Mapped[encrypted_secret]
    refresh_token_encrypted: Mapped[encrypted_secret]
    # Other fields of the token response (instance_url ...), for ${connection.*}.
    token_fields_encrypted: Mapped[encrypted_secret]
    # apiKey / token / username+password for non-OAuth auth types, as JSON.
    credentials_encrypted: Mapped[encrypted_secret]
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_authorized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # After a transient token endpoint failure: no new attempt before this time.
    retry_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A token refresh under way: who claimed it (a random value) and until when the
    # claim holds (oauth/refresh.py); None when no refresh is under way.
    refresh_claim: Mapped[str | None] = mapped_column(String(32))
    refresh_claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    account: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    integration: Mapped[Integration] = relationship()


class OAuthState(Base):
    """One started authorization: single use, short-lived, readable by any worker.

    Only digests are stored, so a copy of the table cannot be replayed. ``state_hash``
    names the row by the digest of the secret that currently names the flow: the
    one-time start address's nonce while a flow started with an API token waits for a
    browser, then the ``state`` sent to the provider. ``browser_hash`` is the digest of
    the cookie set in the browser that started the flow (None while it waits for one):
    the callback completes only in that browser (docs/security.md).
    """

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_verifier_encrypted: Mapped[encrypted_secret]
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    return_to: Mapped[str | None] = mapped_column(String(2048))
    popup: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    browser_hash: Mapped[str | None] = mapped_column(String(64))
