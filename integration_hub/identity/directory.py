"""Tenants, users and teams: who exists, who may administer them, how they sign in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from integration_hub import errors
from integration_hub.db.models import RetiredPrincipal, Team, TeamMember, Tenant, User
from integration_hub.db.models.user import TEAM_PREFIX
from integration_hub.identity import browser_sessions

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TEAM_ROLES = ("member", "admin")
# Checked against when the username is unknown, so both paths cost one KDF run.
_DUMMY_HASH = generate_password_hash("not-a-password")


class UserNotFound(errors.NotFound):
    code, title = "user_not_found", "No such user in this tenant"


class TeamNotFound(errors.NotFound):
    code, title = "team_not_found", "No such team in this tenant"


class CannotDeleteSelf(errors.Conflict):
    code, title = "cannot_delete_self", "You cannot delete your own user"


class PrincipalRetired(errors.Conflict):
    code, title = "principal_id_retired", "This id belonged to a deleted user or team"


require_superuser = errors.require_superuser  # the rule lives where every package reaches it


def _invalid(field: str, message: str) -> errors.ValidationFailed:
    return errors.ValidationFailed(f"{field}: {message}", errors={field: [message]})


# -- tenants -----------------------------------------------------------------

def ensure_tenant(session: Session, tenant_id: str, name: str | None = None,
                  settings: Mapping[str, Any] | None = None) -> Tenant:
    """Get or create a tenant; given ``name``/``settings`` are applied either way."""
    if not SLUG_PATTERN.match(tenant_id):
        raise _invalid("id", "use lower-case letters, digits, '-' and '_' (max 64)")
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        tenant = Tenant(id=tenant_id, name=name or tenant_id, settings={})
        session.add(tenant)
    elif name:
        tenant.name = name
    if settings:
        tenant.settings = {**(tenant.settings or {}), **settings}
    session.flush()
    return tenant


def update_tenant(session: Session, actor: User, tenant: Tenant, changes: Mapping[str, Any]) -> Tenant:
    require_superuser(actor)
    if "name" in changes:
        tenant.name = changes["name"]
    if "settings" in changes:
        tenant.settings = dict(changes["settings"] or {})
    session.flush()
    return tenant


# -- users -------------------------------------------------------------------

def list_users(session: Session, tenant_id: str, q: str | None, start: int,
               limit: int) -> tuple[list[User], int]:
    query = select(User).where(User.tenant_id == tenant_id)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(or_(func.lower(User.username).like(pattern),
                                func.lower(User.display_name).like(pattern),
                                func.lower(User.email).like(pattern)))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(query.order_by(User.display_name, User.username)
                            .offset(start).limit(limit)).all()
    return list(items), total or 0


def get_user(session: Session, tenant_id: str, username: str) -> User:
    user = session.scalars(select(User).where(User.tenant_id == tenant_id,
                                              User.username == username)).first()
    if user is None:
        raise UserNotFound(f"user {username!r} does not exist")
    return user


def create_user(session: Session, tenant_id: str, values: Mapping[str, Any]) -> User:
    username = values["username"]
    if not USERNAME_PATTERN.match(username):
        raise _invalid("username", "use letters, digits and . _ @ + - (max 64, no ':')")
    if session.scalars(select(User.id).where(User.tenant_id == tenant_id,
                                             User.username == username)).first():
        raise errors.AlreadyExists(f"user {username!r} already exists")
    user = User(tenant_id=tenant_id, username=username, display_name=username,
                fields={}, permissions=[])
    _apply_user_changes(user, values)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise errors.AlreadyExists(f"user {username!r} already exists") from None
    _require_never_used(session, tenant_id, username)
    return user


def update_user(session: Session, actor: User, user: User, changes: Mapping[str, Any]) -> User:
    require_superuser(actor)
    if user.id == actor.id and (changes.get("superuser") is False or changes.get("enabled") is False):
        raise errors.Conflict("you cannot remove your own superuser flag or disable yourself")
    _apply_user_changes(user, changes)
    if "password" in changes or changes.get("enabled") is False:
        browser_sessions.end_all(session, user)  # a reset or a lock-out ends them everywhere
    session.flush()
    return user


def end_sessions(session: Session, actor: User, user: User) -> int:
    """Sign ``user`` out of every browser: themselves, or a tenant administrator."""
    if user.id != actor.id:
        require_superuser(actor)
    return browser_sessions.end_all(session, user)


def _apply_user_changes(user: User, changes: Mapping[str, Any]) -> None:
    for attribute in ("display_name", "email", "fields", "superuser", "permissions", "enabled"):
        if attribute in changes:
            value = changes[attribute]
            if attribute in ("fields",) and value is None:
                value = {}
            if attribute == "permissions":
                value = sorted(set(value or []))
            setattr(user, attribute, value)
    if "password" in changes:
        password = changes["password"]
        user.password_hash = generate_password_hash(password) if password else None


def check_password(session: Session, tenant_id: str, username: str, password: str) -> User:
    """The enabled user with this password, or ``InvalidCredentials``; same cost either way."""
    user = session.scalars(select(User).where(User.tenant_id == tenant_id,
                                              User.username == username)).first()
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    if not check_password_hash(stored, password) or user is None or not user.password_hash \
            or not user.enabled:
        raise errors.InvalidCredentials()
    return user


def _require_never_used(session: Session, tenant_id: str, principal_id: str) -> None:
    """Refuse the id of a deleted principal: grants may still name it. Checked after the
    new row is written, so a deletion committing at the same moment is seen either way
    (the row waits for it on the unique key, or this read finds the retired id)."""
    if session.get(RetiredPrincipal, (tenant_id, principal_id)) is not None:
        raise PrincipalRetired(f"{principal_id!r} belonged to a deleted user or team and is "
                               "never given to anyone else; choose another")


# -- teams -------------------------------------------------------------------

def team_slug(team_id: str) -> str:
    """Accept ``team:eng`` as well as ``eng``."""
    return team_id[len(TEAM_PREFIX):] if team_id.startswith(TEAM_PREFIX) else team_id


def list_teams(session: Session, tenant_id: str, q: str | None, start: int,
               limit: int) -> tuple[list[Team], int]:
    query = select(Team).where(Team.tenant_id == tenant_id)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(or_(func.lower(Team.slug).like(pattern),
                                func.lower(Team.name).like(pattern)))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(query.order_by(Team.name, Team.slug).offset(start).limit(limit)).all()
    return list(items), total or 0


def get_team(session: Session, tenant_id: str, team_id: str) -> Team:
    team = session.scalars(select(Team).where(Team.tenant_id == tenant_id,
                                              Team.slug == team_slug(team_id))).first()
    if team is None:
        raise TeamNotFound(f"team {team_id!r} does not exist")
    return team


def create_team(session: Session, tenant_id: str, values: Mapping[str, Any]) -> Team:
    slug = team_slug(values["id"])
    if not SLUG_PATTERN.match(slug):
        raise _invalid("id", "use team:<slug> with lower-case letters, digits, '-' and '_'")
    if session.scalars(select(Team.id).where(Team.tenant_id == tenant_id,
                                             Team.slug == slug)).first():
        raise errors.AlreadyExists(f"team {TEAM_PREFIX + slug!r} already exists")
    team = Team(tenant_id=tenant_id, slug=slug, name=values["name"],
                description=values.get("description") or "")
    session.add(team)
    try:
        session.flush()
    except IntegrityError:  # created concurrently since the check above
        session.rollback()
        raise errors.AlreadyExists(f"team {TEAM_PREFIX + slug!r} already exists") from None
    _require_never_used(session, tenant_id, team.principal_id)
    for member in values.get("members") or []:
        set_member(session, team, member["username"], member.get("role", "member"))
    return team


def update_team(session: Session, actor: User, team: Team, changes: Mapping[str, Any]) -> Team:
    require_superuser(actor)
    for attribute in ("name", "description"):
        if attribute in changes:
            setattr(team, attribute, changes[attribute] or "")
    session.flush()
    return team


def manages_members(actor: User, team: Team) -> bool:
    """Superusers and the team's own admins manage its members."""
    return actor.superuser or any(m.user_id == actor.id and m.role == "admin"
                                  for m in team.members)


def require_team_admin(actor: User, team: Team) -> None:
    if manages_members(actor, team):
        return
    raise errors.Forbidden("managing members needs a superuser or an admin of the team")


def set_member(session: Session, team: Team, username: str, role: str = "member") -> TeamMember:
    if role not in TEAM_ROLES:
        raise _invalid("role", f"must be one of {', '.join(TEAM_ROLES)}")
    user = get_user(session, team.tenant_id, username)
    member = next((m for m in team.members if m.user_id == user.id), None)
    if member is None:
        member = TeamMember(team=team, user=user, role=role)
        session.add(member)
    else:
        member.role = role
    session.flush()
    return member


def remove_member(session: Session, team: Team, username: str) -> None:
    user = get_user(session, team.tenant_id, username)
    member = next((m for m in team.members if m.user_id == user.id), None)
    if member is None:
        raise UserNotFound(f"{username!r} is not a member of {team.principal_id!r}")
    team.members.remove(member)
    session.flush()
