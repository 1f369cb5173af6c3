"""Hub API tokens: issued once in plain, stored as a digest, checked per request; a token
made with a token never outlives it (docs/security.md, "API tokens: lineage and scopes")."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, literal, select, update
from sqlalchemy.orm import Session, contains_eager

from integration_hub import errors
from integration_hub.db.models import ApiToken, Tenant, User
from integration_hub.db.session import writing
from integration_hub.db.types import utcnow
from integration_hub.identity import token_scopes

TOKEN_PREFIX = "ihub_"
_DISPLAY_PREFIX_LENGTH = len(TOKEN_PREFIX) + 6


def hash_token(plain: str) -> str:
    """SHA-256 is enough here: tokens carry 256 random bits, so no KDF is needed
    and the digest can be looked up by index on every request."""
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


# A token made with a token made with a token ...: at most this many in one line. Revoking
# the first deletes the rest by the database's cascade, which SQLite runs as nested
# triggers (at most 1000 deep); and no program needs more than a few hand-downs.
MAX_LINEAGE = 8


@dataclass(frozen=True)
class IssuedToken:
    record: ApiToken
    plain: str


def issue_token(session: Session, user: User, name: str = "",
                expires_at: datetime | None = None, plain: str | None = None, *,
                scopes: Iterable[str] | None = None,
                parent_id: str | None = None) -> IssuedToken:
    """Create a token for ``user``; the caller commits and shows ``plain`` once.

    ``scopes`` default to every scope, or to the parent's. With ``parent_id`` (the token
    the request came with) the new token is the parent's child: its scopes must be among
    the parent's, its expiry is the earlier of ``expires_at`` and the parent's, and it is
    revoked with the parent.
    """
    if scopes is not None:
        _check_known(scopes)
    granted = token_scopes.SCOPES
    if parent_id is not None:
        granted, expires_at = _under_parent(session, user, parent_id, expires_at)
    wanted = token_scopes.normalised(granted if scopes is None else scopes)
    exceeding = token_scopes.beyond(wanted, granted)
    if exceeding:
        raise errors.TokenScopeExceedsParent(
            f"this token holds {', '.join(granted)}; it cannot give {', '.join(exceeding)}",
            parentScopes=list(granted))
    if expires_at is not None and expires_at <= utcnow():
        raise errors.ValidationFailed("expiresAt must be in the future",
                                      errors={"expiresAt": ["must be in the future"]})
    plain = plain or generate_token()
    record = ApiToken(user_id=user.id, name=name, token_hash=hash_token(plain),
                      prefix=plain[:_DISPLAY_PREFIX_LENGTH], expires_at=expires_at,
                      scopes_text=token_scopes.stored(wanted), parent_id=parent_id)
    record.user = user
    session.add(record)
    session.flush()
    return IssuedToken(record, plain)


def _check_known(scopes: Iterable[str]) -> None:
    names = list(scopes)
    wrong = token_scopes.unknown(names)
    if wrong or not names:
        message = (f"not a scope: {', '.join(map(str, wrong))}" if wrong else "name at least one")
        raise errors.ValidationFailed(
            f"scopes: {message} (one or more of {', '.join(token_scopes.SCOPES)})",
            errors={"scopes": [message]})


def _under_parent(session: Session, user: User, parent_id: str,
                  expires_at: datetime | None) -> tuple[tuple[str, ...], datetime | None]:
    """The parent's scopes and the child's effective expiry. The parent's row is locked
    until the child is committed: a revocation running at the same time waits, then
    deletes the child with it, rather than the child being left without a parent."""
    parent = session.execute(
        select(ApiToken.scopes_text, ApiToken.expires_at)
        .where(ApiToken.id == parent_id, ApiToken.user_id == user.id)
        .with_for_update(read=True, key_share=True)).first()
    if parent is None or (parent.expires_at is not None and parent.expires_at <= utcnow()):
        raise errors.InvalidToken()  # revoked or expired since the request was authenticated
    if _line_length(session, parent_id) >= MAX_LINEAGE:
        raise errors.TokenLineageTooDeep(
            f"this token was made from {MAX_LINEAGE - 1} others in a line and can make no "
            "token; make one with a browser session or the command line")
    if parent.expires_at is not None and (expires_at is None or expires_at > parent.expires_at):
        expires_at = parent.expires_at
    return token_scopes.parsed(parent.scopes_text), expires_at


def _line_length(session: Session, token_id: str) -> int:
    """How many tokens the line ending at ``token_id`` holds (1: it has no parent)."""
    line = (select(ApiToken.parent_id, literal(1).label("length"))
            .where(ApiToken.id == token_id).cte("line", recursive=True))
    line = line.union_all(select(ApiToken.parent_id, line.c.length + 1)
                          .where(ApiToken.id == line.c.parent_id))
    return session.scalar(select(func.max(line.c.length))) or 0


@dataclass(frozen=True)
class Bearer:
    """Who a bearer token speaks for, and what it may do."""
    user: User
    tenant: Tenant
    token_id: str
    scopes: tuple[str, ...]
    expires_at: datetime | None = None
    last_used_at: datetime | None = None  # as read, before this call touched it


# Every authenticated call runs this: one statement for the token, its user and their
# tenant, built once (building a statement costs more than running it on SQLite).
_TOKEN_OWNER = (select(ApiToken, Tenant).join(ApiToken.user)
                .join(Tenant, Tenant.id == User.tenant_id)
                .options(contains_eager(ApiToken.user))
                .where(ApiToken.token_hash == bindparam("token_hash")))


def bearer_of(session: Session, plain: str, *, touch_after: int = 60) -> Bearer:
    """The enabled user a token belongs to, their tenant and the token's scopes, or
    ``InvalidToken``. A revoked token's row is gone, and with it every token it made;
    a child's expiry is never later than its parent's, so no ancestor is looked at here.

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
    bearer = Bearer(token.user, tenant, token.id, token_scopes.parsed(token.scopes_text),
                    token.expires_at, token.last_used_at)
    if token.last_used_at is None or now - token.last_used_at > timedelta(seconds=touch_after):
        with writing(session):
            session.execute(update(ApiToken).where(ApiToken.id == token.id)
                            .values(last_used_at=now))
    return bearer


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


def revoke_token(session: Session, actor: User, token_id: str) -> int:
    """Delete the token; the database deletes every token made from it, down the line.
    Answers how many of those there were."""
    token = get_token(session, actor, token_id)
    made = (select(ApiToken.id).where(ApiToken.parent_id == token.id)
            .cte("made", recursive=True))
    made = made.union_all(select(ApiToken.id).where(ApiToken.parent_id == made.c.id))
    descendants = session.scalar(select(func.count()).select_from(made)) or 0
    session.delete(token)
    return descendants
