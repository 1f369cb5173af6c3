"""Team use cases: create, change, delete a team, and manage its members.

Each is one function owning its transaction and its audit entry: a view parses the
request, builds the acting principal (``edge.security.current_actor``), calls one of
these and renders the answer. ``precondition`` is the caller's check that the team is
still the version it read (``If-Match``), run inside the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integration_hub.audit.actions import audited
from integration_hub.audit.entries import Actor
from integration_hub.db.models import Team
from integration_hub.db.session import Precondition, no_precondition, transaction
from integration_hub.identity import deletion, directory


def create(actor: Actor, values: Mapping[str, Any]) -> Team:
    with audited(actor, "team.create", "team") as action:
        directory.require_superuser(actor.user)
        with transaction() as session:
            team = directory.create_team(session, actor.tenant_id, values)
            action.succeeded(session, team.principal_id, name=team.name)
    return team


def update(actor: Actor, team_id: str, changes: Mapping[str, Any],
           precondition: Precondition = no_precondition) -> Team:
    with audited(actor, "team.update", "team", team_id) as action, transaction() as session:
        team = directory.get_team(session, actor.tenant_id, team_id)
        directory.require_superuser(actor.user)
        precondition(team)
        directory.update_team(session, actor.user, team, changes)
        action.succeeded(session, team.principal_id, fields=sorted(changes))
    return team


def delete(actor: Actor, team_id: str, successor: str | None,
           precondition: Precondition = no_precondition) -> deletion.Deletion:
    """Delete the team with its shares and memberships; what it owns goes to
    ``successor``."""
    with audited(actor, "team.delete", "team", team_id) as action, transaction() as session:
        team = directory.get_team(session, actor.tenant_id, team_id)
        directory.require_superuser(actor.user)
        precondition(team)
        removed = deletion.delete_team(session, actor, team, successor)
        action.succeeded(session, team.principal_id, **removed.detail)
    return removed


def set_member(actor: Actor, team_id: str, username: str, role: str) -> Team:
    with audited(actor, "team.member_set", "team", team_id) as action, transaction() as session:
        team = directory.get_team(session, actor.tenant_id, team_id)
        directory.require_team_admin(actor.user, team)
        directory.set_member(session, team, username, role)
        action.succeeded(session, team.principal_id, username=username, role=role)
    return team


def remove_member(actor: Actor, team_id: str, username: str) -> None:
    with audited(actor, "team.member_remove", "team", team_id) as action, \
            transaction() as session:
        team = directory.get_team(session, actor.tenant_id, team_id)
        directory.require_team_admin(actor.user, team)
        directory.remove_member(session, team, username)
        action.succeeded(session, team.principal_id, username=username)
