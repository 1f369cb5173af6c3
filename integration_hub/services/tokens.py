"""Hub API tokens: issued once in plain, stored as a digest, checked per request."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, contains_eager

from integration_hub import errors
from integration_hub.db.models import ApiToken, Tenant, User
from integration_hub.db.session import writing
from integration_hub.db.types import utcnow

TOKEN_PREFIX = "ihub_"
_DISPLAY_PREFIX_LENGTH = len(TOKEN_PREFIX) + 6


def hash_token(plain: str) -> str:
    """SHA-256 is enough here: tokens carry 256 random bits, so no KDF is needed
    and the digest can be looked up by index on every request."""
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class IssuedToken:
    record: ApiToken
    plain: str


def issue_token(session: Session, user: User, name: str = "",
                expires_at: datetime | None = None, plain: str | None = None) -> IssuedToken:
    """Create a token for ``user``; the caller commits and shows ``plain`` once."""
    if expires_at is not None and expires_at <= utcnow():
        raise errors.ValidationFailed("expiresAt must be in the future",
                                      errors={"expiresAt": ["must be in the future"]})
    plain = plain or generate_token()
    record = ApiToken(user_id=user.id, name=name, token_hash=hash_token(plain),
                      prefix=plain[:_DISPLAY_PREFIX_LENGTH], expires_at=expires_at)
    record.user = user
    session.add(record)
    session.flush()
    return IssuedToken(record, plain)


# Every authenticated call runs this: one statement for the token, its user and their
# tenant, built once (building a statement costs more than running it on SQLite).
_TOKEN_OWNER = (select(ApiToken, Tenant).join(ApiToken.user)
                .join(Tenant, Tenant.id == User.tenant_id)
                .options(contains_eager(ApiToken.user))
                .where(ApiToken.token_hash == bindparam("token_hash")))


def user_for_token(session: Session, plain: str, *,
                   touch_after: int = 60) -> tuple[User, Tenant]:
    """The enabled user a token belongs to and their tenant, or ``InvalidToken``.

    ``lastUsedAt`` is written at most once per ``touch_after`` seconds so the
    hot path does not write on every call.
    """
    if not plain.startswith(TOKEN_PREFIX):
        raise errors.InvalidToken()
    found = session.execute(_TOKEN_OWNER, {"token_hash": hash_token(plain)}).first()
    token, tenant = (None, None) if found is None else found
    now = utcnow()
    if token is None or not token.user.enabled or (
            token.expires_at is not None and token.expires_at <= now):
        raise errors.InvalidToken()
    if token.last_used_at is None or now - token.last_used_at > timedelta(seconds=touch_after):
        user = token.user
        with writing(session):
            session.execute(update(ApiToken).where(ApiToken.id == token.id)
                            .values(last_used_at=now))
        return user, tenant
    return token.user, tenant


def tokens_of(session: Session, user: User, start: int, limit: int) -> tuple[list[ApiToken], int]:
    """A page of the user's own tokens, oldest first, and how many there are."""
    mine = select(ApiToken).where(ApiToken.user_id == user.id)
    total = session.scalar(select(func.count()).select_from(mine.subquery())) or 0
    page = session.scalars(mine.order_by(ApiToken.created_at, ApiToken.id)
                           .offset(start).limit(limit))
    return list(page), total


def get_token(session: Session, actor: User, token_id: str) -> ApiToken:
    """A token the actor may manage: their own, or any in the tenant for a superuser."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user.tenant_id != actor.tenant_id or (
            token.user_id != actor.id and not actor.superuser):
        raise errors.NotFound("no such token")
    return token


def revoke_token(session: Session, actor: User, token_id: str) -> None:
    session.delete(get_token(session, actor, token_id))
