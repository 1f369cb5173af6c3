"""Who may do what with an integration (docs/decisions.md, "Integrations and the ACL"), in one place.

Levels: 1 read/use, 2 write, 3 share; owners (a user, or every member of an
owning team) and superusers have everything, including delete. An integration
the caller cannot read does not exist for them (404); one they can read but
not change answers 403.
"""

from __future__ import annotations

from enum import IntEnum

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    bindparam,
    func,
    literal,
    or_,
    select,
    union_all,
)

from integration_hub import errors
from integration_hub.db.models import Integration, IntegrationShare, Team, TeamMember, User
from integration_hub.db.models.user import TEAM_PREFIX


class Access(IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2
    SHARE = 3
    OWNER = 4  # owner or superuser: everything, including delete


class IntegrationNotFound(errors.NotFound):
    code, title = "integration_not_found", "No such integration"


_REFUSALS = {
    Access.WRITE: "changing this integration needs write access (share level 2) or ownership",
    Access.SHARE: "managing shares needs share access (level 3) or ownership",
    Access.OWNER: "only the owner or an administrator may do this",
}


def effective_access(superuser: bool, owned: bool, best_share: int | None) -> Access:
    """The caller's level: everything for superusers and owners, else their best share
    (``best_share``: the highest level among shares to the caller or their teams)."""
    if superuser or owned:
        return Access.OWNER
    return Access(min(max(best_share or 0, 0), Access.SHARE))


def caller_access(integration: Integration) -> Access:
    """The access the integration was loaded with for the caller (``find``, lists);
    unknown counts as reading only, so a representation never offers too much."""
    return Access(integration.caller_access or Access.READ)


def require(level: Access, needed: Access, what: str = "integration") -> None:
    """404 when the caller cannot even read, 403 when they can but not enough."""
    if level < Access.READ:
        raise IntegrationNotFound(f"no {what} with this id or slug")
    if level < needed:
        raise errors.Forbidden(_REFUSALS[needed])


def principals_query(user: User) -> Select:
    """The caller's principal ids as one SQL select: their username and their teams."""
    return _principals(literal(user.username), user.id)


def _principals(username, user_id) -> Select:
    teams = (select((literal(TEAM_PREFIX) + Team.slug).label("principal_id"))
             .join(TeamMember, TeamMember.team_id == Team.id)
             .where(TeamMember.user_id == user_id))
    return union_all(select(username.label("principal_id")), teams)


def readable_clause(user: User, principals: list[str] | None = None,
                    by_id: bool = False) -> ColumnElement[bool]:
    """SQL condition: the caller may read the integration (used by every list).

    ``principals``: the caller's principal ids, when already read (``principals_query``);
    as values rather than a subquery they give the planner statistics to go by.
    The default form, owned or ``id IN (shared ids)``, suits walking an ordered index
    to fill a page: the shared ids are read once (an index range), then each row costs
    a lookup in them. ``by_id``: the same condition as ``id IN (owned ids UNION ALL
    shared ids)``, a semi-join both databases drive from the caller's ids rather than
    from every integration of the tenant: the form to count or load every readable row.
    """
    tenant = Integration.tenant_id == user.tenant_id
    if user.superuser:
        return tenant
    if principals is None:
        principals = select(principals_query(user).subquery().c.principal_id)
    shared = select(IntegrationShare.integration_id).where(
        IntegrationShare.principal_id.in_(principals))
    if by_id:
        owned = (select(Integration.id).where(Integration.owner_id.in_(principals))
                 .correlate(None))  # its own FROM integrations, not the enclosing one
        return tenant & Integration.id.in_(union_all(owned, shared))
    return tenant & or_(Integration.owner_id.in_(principals), Integration.id.in_(shared))


def access_columns(principals: list[str] | None = None
                   ) -> tuple[ColumnElement[bool], ColumnElement[int | None]]:
    """SQL to select beside an integration: does the caller own it, and their best share
    level (NULL: none), so one statement loads an integration with the caller's access.
    The caller is given as ``principals`` (their ids, already read) or, without them, as
    the bound parameters ``username`` and ``user_id``."""
    if principals is None:
        mine = _principals(bindparam("username", type_=String), bindparam("user_id")).subquery()
        principals = select(mine.c.principal_id)
    owned = Integration.owner_id.in_(principals)
    best = (select(func.max(IntegrationShare.access_level))
            .where(IntegrationShare.integration_id == Integration.id,
                   IntegrationShare.principal_id.in_(principals))
            .correlate(Integration)
            .scalar_subquery())
    return owned, best


def can_create(user: User) -> bool:
    return user.has_permission("integrations.create")
