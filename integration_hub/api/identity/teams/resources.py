"""``/api/teams``: groups of users that integrations can be shared with."""

from flask.views import MethodView

from integration_hub.api.auditing import audit_success, audited
from integration_hub.api.common import hal_page, href
from integration_hub.api.identity.principal_deletion import (
    PrincipalDeleteArgsSchema,
    owned_integrations_linked,
)
from integration_hub.api.identity.teams.schemas import (
    MemberRoleSchema,
    TeamPageArgsSchema,
    TeamPageSchema,
    TeamSchema,
    TeamUpdateSchema,
)
from integration_hub.db.session import db_session, transaction
from integration_hub.edge.conditional import check_if_match
from integration_hub.edge.security import current_user
from integration_hub.extensions import Blueprint
from integration_hub.identity import deletion as principal_deletion
from integration_hub.identity import directory as identity

blp = Blueprint("teams", __name__, url_prefix="/api", description="Teams and their members")
ENTRY_POINTS = {"inf:teams": "teams.Teams"}


@blp.route("/teams")
class Teams(MethodView):
    @blp.arguments(TeamPageArgsSchema, location="query")
    @blp.response(200, TeamPageSchema)
    @blp.problems(401)
    def get(self, args):
        """List the teams of your tenant"""
        teams, total = identity.list_teams(db_session(), current_user().tenant_id, args.get("q"),
                                           args["start"], args["limit"])
        return hal_page("teams.Teams", "inf:team", teams, args["start"], args["limit"], total)

    @blp.arguments(TeamSchema)
    @blp.response(201, TeamSchema)
    @blp.problems(400, 401, 403, 404, 409, 413, 415)
    @audited("team.create", "team")
    def post(self, values):
        """Create a team, optionally with members (administrators)"""
        actor = current_user()
        identity.require_superuser(actor)
        with transaction() as session:
            team = identity.create_team(session, actor.tenant_id, values)
            audit_success(session, team.principal_id, name=team.name)
        return team, 201, {"Location": href("teams.Team", team_id=team.principal_id)}


@blp.route("/teams/<team_id>")
class Team(MethodView):
    @blp.response(200, TeamSchema)
    @blp.problems(401, 404)
    def get(self, team_id):
        """One team with its members"""
        return identity.get_team(db_session(), current_user().tenant_id, team_id)

    @blp.arguments(TeamUpdateSchema)
    @blp.response(200, TeamSchema)
    @blp.problems(400, 401, 403, 404, 412, 413, 415)
    @audited("team.update", "team", "team_id")
    def put(self, changes, team_id):
        """Rename or describe a team (administrators)"""
        actor = current_user()
        with transaction() as session:
            team = identity.get_team(session, actor.tenant_id, team_id)
            identity.require_superuser(actor)
            check_if_match(TeamSchema().dump(team))
            identity.update_team(session, actor, team, changes)
            audit_success(session, team.principal_id, fields=sorted(changes))
        return team

    @blp.arguments(PrincipalDeleteArgsSchema, location="query")
    @blp.response(204)
    @blp.problems(401, 403, 404, 409, 412, 422)
    @audited("team.delete", "team", "team_id")
    def delete(self, args, team_id):
        """Delete a team with its shares and memberships; what it owns goes to ?successor=
        (administrators)"""
        actor = current_user()
        with owned_integrations_linked(), transaction() as session:
            team = identity.get_team(session, actor.tenant_id, team_id)
            identity.require_superuser(actor)
            check_if_match(TeamSchema().dump(team))
            deletion = principal_deletion.delete_team(session, actor, team, args.get("successor"))
            audit_success(session, team.principal_id, **deletion.detail)


@blp.route("/teams/<team_id>/members/<username>")
class TeamMember(MethodView):
    @blp.arguments(MemberRoleSchema, required=False)
    @blp.response(200, TeamSchema)
    @blp.problems(400, 401, 403, 404, 413, 415)
    @audited("team.member_set", "team", "team_id")
    def put(self, values, team_id, username):
        """Add a member or change their role (administrators and team admins)"""
        actor = current_user()
        with transaction() as session:
            team = identity.get_team(session, actor.tenant_id, team_id)
            identity.require_team_admin(actor, team)
            identity.set_member(session, team, username, values["role"])
            audit_success(session, team.principal_id, username=username, role=values["role"])
        return team

    @blp.response(204)
    @blp.problems(401, 403, 404)
    @audited("team.member_remove", "team", "team_id")
    def delete(self, team_id, username):
        """Remove a member (administrators and team admins)"""
        actor = current_user()
        with transaction() as session:
            team = identity.get_team(session, actor.tenant_id, team_id)
            identity.require_team_admin(actor, team)
            identity.remove_member(session, team, username)
            audit_success(session, team.principal_id, username=username)
