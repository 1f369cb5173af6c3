"""Browser sessions kept in the hub's database: the cookie names one by a random id.

Ending a session deletes its row, so it ends on the next request in every worker
process on every machine. Signing out ends one session; a new password, disabling the
user, deleting them (the rows cascade) and "sign out everywhere" end all of a user's.
Signing in ends the session the browser's cookie named before, whoever's it was: a copy
of the old cookie is worth nothing once the browser has moved on.
A session lasts ``PERMANENT_SESSION_LIFETIME`` (12 hours) from sign-in, however busy.
Every sign-in also deletes every expired session, anyone's, so rows of browsers that
never come back go without a scheduled job: the table holds the sessions of the last
12 hours, and those that expired since the last sign-in.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from integration_hub.db.locks import delete_unlocked
from integration_hub.db.models import BrowserSession, User
from integration_hub.db.types import utcnow


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


def start(session: Session, user: User, lifetime: timedelta, now: datetime | None = None,
          replacing: str | None = None) -> str:
    """A new session of ``user`` (the caller commits); answers its id, for the cookie only.
    The session ``replacing`` names (the browser's previous one) ends, and every expired
    session goes, at the same time."""
    now = now or utcnow()
    delete_unlocked(session, BrowserSession, BrowserSession.expires_at <= now)
    if replacing is not None:
        end(session, replacing)
    session_id = secrets.token_urlsafe(32)
    session.add(BrowserSession(id_hash=_digest(session_id), user_id=user.id,
                               created_at=now, expires_at=now + lifetime))
    session.flush()
    return session_id


def user_of(session: Session, session_id: str, now: datetime | None = None) -> User | None:
    """The user of a live session: one lookup by primary key."""
    return session.scalars(select(User).join(BrowserSession, BrowserSession.user_id == User.id)
                           .where(BrowserSession.id_hash == _digest(session_id),
                                  BrowserSession.expires_at > (now or utcnow()))).first()


def end(session: Session, session_id: str) -> None:
    session.execute(delete(BrowserSession).where(BrowserSession.id_hash == _digest(session_id)))


def end_all(session: Session, user: User) -> int:
    """End every session of ``user``; answers how many there were."""
    return session.execute(delete(BrowserSession).where(
        BrowserSession.user_id == user.id)).rowcount
