import marshmallow as ma

from integration_hub.api.common import HalSchema, SearchPageArgsSchema, href, page_schema, template_href
from integration_hub.edge.security import current_user
from integration_hub.identity.directory import TEAM_ROLES, manages_members


class MemberSchema(ma.Schema):
    username = ma.fields.String(required=True)
    role = ma.fields.String(load_default="member", validate=ma.validate.OneOf(TEAM_ROLES))


class DumpedMemberSchema(ma.Schema):
    username = ma.fields.Function(lambda m: m.user.username)
    display_name = ma.fields.Function(lambda m: m.user.display_name, data_key="displayName")
    role = ma.fields.String()


class TeamUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=128))
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=1024))


class TeamSchema(HalSchema, TeamUpdateSchema):
    id = ma.fields.Function(lambda t: t.principal_id, deserialize=str, required=True,
                            metadata={"description": "Principal id team:<slug>"})
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=128))
    type = ma.fields.Constant("team", dump_only=True)
    members = ma.fields.Method("_members", deserialize="_load_members",
                               metadata={"description": "On create: initial members"})
    created_at = ma.fields.DateTime(data_key="createdAt", dump_only=True)
    updated_at = ma.fields.DateTime(data_key="updatedAt", dump_only=True)

    def _members(self, team):
        return DumpedMemberSchema(many=True).dump(team.members)

    def _load_members(self, value):
        return MemberSchema(many=True).load(value)

    def hal_links(self, team):
        links = {"self": {"href": href("teams.Team", team_id=team.principal_id)},
                 "inf:teams": {"href": href("teams.Teams")}}
        if manages_members(current_user(), team):
            links["inf:team-member"] = {
                "href": template_href("teams.TeamMember", username="{username}",
                                      team_id=team.principal_id),
                "templated": True}
        return links


class TeamPageArgsSchema(SearchPageArgsSchema):
    pass


class MemberRoleSchema(ma.Schema):
    role = ma.fields.String(load_default="member", validate=ma.validate.OneOf(TEAM_ROLES))


TeamPageSchema = page_schema(TeamSchema, "inf:team", "TeamPage")
