import marshmallow as ma

from integration_hub.api.common import HalSchema, SearchPageArgsSchema, href, page_schema
from integration_hub.edge.security import current_user
from integration_hub.hal.forms import template


class UserFieldsSchema(ma.Schema):
    """What an administrator may set on a user."""

    display_name = ma.fields.String(data_key="displayName", validate=ma.validate.Length(max=128))
    email = ma.fields.Email(allow_none=True, validate=ma.validate.Length(max=254))
    fields = ma.fields.Dict(keys=ma.fields.String(), allow_none=True, metadata={
        "description": "Custom attributes, usable in header templates as ${user.<name>}"})
    superuser = ma.fields.Boolean()
    permissions = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=64)),
                                 metadata={"description": "e.g. integrations.create"})
    enabled = ma.fields.Boolean()
    password = ma.fields.String(load_only=True, allow_none=True,
                                validate=ma.validate.Length(min=8, max=1024),
                                metadata={"description": "Write-only; null removes password sign-in"})


class UserUpdateSchema(UserFieldsSchema):
    pass


class UserSchema(HalSchema, UserFieldsSchema):
    username = ma.fields.String(required=True, metadata={"description": "Principal id"})
    type = ma.fields.Constant("user", dump_only=True)
    tenant_id = ma.fields.String(data_key="tenantId", dump_only=True)
    has_password = ma.fields.Method("_has_password", data_key="hasPassword", dump_only=True)
    created_at = ma.fields.DateTime(data_key="createdAt", dump_only=True)
    updated_at = ma.fields.DateTime(data_key="updatedAt", dump_only=True)

    def _has_password(self, user) -> bool:
        return bool(user.password_hash)

    def hal_links(self, user):
        return {
            "self": {"href": href("users.User", username=user.username)},
            "inf:users": {"href": href("users.Users")},
            "inf:tenant": {"href": href("tenant.Tenant")},
            "inf:sessions": {"href": href("users.UserSessions", username=user.username)},
        }

    def hal_templates(self, user):
        actor = current_user()
        if user.id == actor.id:  # as identity.end_sessions allows
            title = "Sign out of every browser"
        elif actor.superuser:
            title = "Sign the user out of every browser"
        else:
            return {}
        return {"signOutEverywhere": template(
            "DELETE", href("users.UserSessions", username=user.username), title=title)}


class MembershipSchema(ma.Schema):
    id = ma.fields.Function(lambda m: m.team.principal_id, dump_only=True)
    name = ma.fields.Function(lambda m: m.team.name, dump_only=True)
    role = ma.fields.String(dump_only=True)


class MeSchema(UserSchema):
    teams = ma.fields.List(ma.fields.Nested(MembershipSchema), attribute="memberships",
                           dump_only=True)

    def hal_links(self, user):
        return {
            "self": {"href": href("users.Me")},
            "inf:user": {"href": href("users.User", username=user.username)},
            "inf:tokens": {"href": href("tokens.Tokens")},
            "inf:tenant": {"href": href("tenant.Tenant")},
            "inf:logout": {"href": href("session.Logout")},
            "inf:sessions": {"href": href("users.MySessions")},
        }

    def hal_templates(self, user):
        return {"signOutEverywhere": template("DELETE", href("users.MySessions"),
                                              title="Sign out of every browser")}


class UserQueryArgsSchema(SearchPageArgsSchema):
    pass


UserPageSchema = page_schema(UserSchema, "inf:user", "UserPage")

