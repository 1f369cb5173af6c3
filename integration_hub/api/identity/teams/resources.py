"""``/api/teams``: groups of users that integrations can be shared with."""

from flask.views import MethodView

from integration_hub.api.common import hal_page, href
from integration_hub.api.extensions import Blueprint
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
from integration_hub.db.session import db_session
from integration_hub.edge.conditional import if_match
from integration_hub.edge.security import current_actor, current_user
from integration_hub.identity import directory as identity
from integration_hub.identity import teams

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
    def post(self, values):
        """Create a team, optionally with members (administrators)"""
        team = teams.create(current_actor(), values)
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
    def put(self, changes, team_id):
        """Rename or describe a team (administrators)"""
        return teams.update(current_actor(), team_id, changes, if_match(TeamSchema().dump))

    @blp.arguments(PrincipalDeleteArgsSchema, location="query")
    @blp.response(204)
    @blp.problems(401, 403, 404, 409, 412, 422)
    def delete(self, args, team_id):
        """Delete a team with its shares and memberships; what it owns goes to ?successor=
        (administrators)"""
        with owned_integrations_linked():
            teams.delete(current_actor(), team_id, args.get("successor"),
                         if_match(TeamSchema().dump))


@blp.route("/teams/<team_id>/members/<username>")
class TeamMember(MethodView):
    @blp.arguments(MemberRoleSchema, required=False)
    @blp.response(200, TeamSchema)
    @blp.problems(400, 401, 403, 404, 413, 415)
    def put(self, values, team_id, username):
        """Add a member or change their role (administrators and team admins)"""
        return teams.set_member(current_actor(), team_id, username, values["role"])

    @blp.response(204)
    @blp.problems(401, 403, 404)
    def delete(self, team_id, username):
        """Remove a member (administrators and team admins)"""
        teams.remove_member(current_actor(), team_id, username)
