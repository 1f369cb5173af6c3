"""Shares and the owner of an integration."""

import marshmallow as ma
from flask.views import MethodView

from integration_hub.api.common import HalSchema, PageArgsSchema, hal_page, href, page_schema
from integration_hub.api.extensions import Blueprint
from integration_hub.db.session import db_session
from integration_hub.edge.conditional import if_match
from integration_hub.edge.security import current_actor, current_user
from integration_hub.hal.forms import template
from integration_hub.integrations import sharing
from integration_hub.integrations.acl import Access, caller_access

# The renderer of share events (api/webhooks/payloads.py) imports it from here.

blp = Blueprint("sharing", __name__, url_prefix="/api",
                description="Who an integration is shared with, and who owns it")


def principal_href(principal: sharing.Principal) -> tuple[str, str]:
    if principal.type == "team":
        return "inf:team", href("teams.Team", team_id=principal.id)
    return "inf:user", href("users.User", username=principal.key)


class PrincipalSchema(HalSchema):
    id = ma.fields.String()
    name = ma.fields.String(allow_none=True, metadata={"description": "null: no longer exists"})
    type = ma.fields.String(metadata={"description": "user or team"})

    def hal_links(self, principal):
        rel, target = principal_href(principal)
        return {"self": {"href": target}}


class UserSummarySchema(PrincipalSchema):
    """A user a share or ownership points at."""


class TeamSummarySchema(PrincipalSchema):
    """A team a share or ownership points at."""


# A share embeds its principal under the rel its kind has everywhere: one of the two.
ShareEmbeddedSchema = ma.Schema.from_dict(
    {"inf:user": ma.fields.Nested(UserSummarySchema),
     "inf:team": ma.fields.Nested(TeamSummarySchema)}, name="ShareEmbedded")


class _PrincipalEmbedded(ma.fields.Nested):
    """``{"inf:user": principal}`` or ``{"inf:team": principal}`` from ``share.principal``."""

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return {f"inf:{obj.principal.type}": obj.principal}


class OwnerSchema(HalSchema):
    id = ma.fields.Function(lambda owner: owner.principal.id)
    name = ma.fields.Function(lambda owner: owner.principal.name, allow_none=True)
    type = ma.fields.Function(lambda owner: owner.principal.type)

    def hal_links(self, owner):
        links = {"self": {"href": href("sharing.Owner", integration_id=owner.integration_id)},
                 "inf:integration": {"href": href("integrations.Integration",
                                                  integration_id=owner.integration_id)}}
        if owner.principal.exists:
            rel, target = principal_href(owner.principal)
            links[rel] = {"href": target}
        return links


class ShareLevelSchema(ma.Schema):
    access_level = ma.fields.Integer(data_key="accessLevel", load_default=1,
                                     validate=ma.validate.Range(min=1, max=3), metadata={
                                         "description": "1 read/use, 2 write, 3 share"})


class ShareSchema(HalSchema, ShareLevelSchema):
    principal_id = ma.fields.String(data_key="principalId", dump_only=True)
    embedded = _PrincipalEmbedded(ShareEmbeddedSchema, data_key="_embedded", dump_only=True)

    def hal_links(self, share):
        return {"self": {"href": _share_href(share)},
                "inf:integration": {"href": href("integrations.Integration",
                                                 integration_id=share.integration_id)}}

    def hal_templates(self, share):
        if not may_manage_shares(share.integration):
            return {}
        return {"default": template("PUT", _share_href(share), ShareLevelSchema(),
                                    title="Change the access level",
                                    values={"accessLevel": share.access_level}),
                "delete": template("DELETE", _share_href(share), title="Stop sharing")}


def _share_href(share) -> str:
    return href("sharing.Share", integration_id=share.integration_id,
                principal_id=share.principal_id)


def may_manage_shares(integration) -> bool:
    return caller_access(integration) >= Access.SHARE


class ShareCreateSchema(ShareLevelSchema):
    principal_id = ma.fields.String(data_key="principalId", required=True,
                                    validate=ma.validate.Length(min=1, max=80), metadata={
                                        "description": "A username, or team:<slug>"})


class OwnerChangeSchema(ma.Schema):
    principal_id = ma.fields.String(data_key="principalId", required=True,
                                    validate=ma.validate.Length(min=1, max=80), metadata={
                                        "description": "A username, or team:<slug>"})


SharePageSchema = page_schema(ShareSchema, "inf:integration-share", "SharePage")


@blp.route("/integrations/<integration_id>/shares")
class Shares(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, SharePageSchema)
    @blp.problems(401, 404)
    def get(self, args, integration_id):
        """Who the integration is shared with"""
        start, limit = args["start"], args["limit"]
        integration, shares, total = sharing.shares_page(db_session(), current_user(),
                                                         integration_id, start, limit)
        return hal_page("sharing.Shares", "inf:integration-share", shares, start, limit,
                        total, integration_id=integration.id,
                        templates=lambda: _shares_templates(integration))

    @blp.arguments(ShareCreateSchema)
    @blp.response(200, ShareSchema, description="The principal's share was changed")
    @blp.alt_response(201, schema=ShareSchema, description="Created")
    @blp.problems(400, 401, 403, 404, 412, 413, 415)
    def post(self, values, integration_id):
        """Share with a user or team, or change their level (share access needed)"""
        return _put_share(integration_id, values["principal_id"], values.get("access_level", 1))


def _shares_templates(integration) -> dict:
    if not may_manage_shares(integration):
        return {}
    return {"default": template("POST", href("sharing.Shares", integration_id=integration.id),
                                ShareCreateSchema(), title="Share with a user or team")}


@blp.route("/integrations/<integration_id>/shares/<principal_id>")
class Share(MethodView):
    @blp.response(200, ShareSchema)
    @blp.problems(401, 404)
    def get(self, integration_id, principal_id):
        """One share"""
        return sharing.share_of(db_session(), current_user(), integration_id, principal_id)

    @blp.arguments(ShareSchema, required=False)
    @blp.response(200, ShareSchema)
    @blp.alt_response(201, schema=ShareSchema, description="Created")
    @blp.problems(400, 401, 403, 404, 412, 413, 415)
    def put(self, values, integration_id, principal_id):
        """Share with a user or team, or change the level (share access needed)"""
        return _put_share(integration_id, principal_id, values.get("access_level", 1))

    @blp.response(204)
    @blp.problems(401, 403, 404, 412)
    def delete(self, integration_id, principal_id):
        """Stop sharing with a principal (share access needed)"""
        sharing.unshare(current_actor(), integration_id, principal_id,
                        if_match(ShareSchema().dump))


@blp.route("/integrations/<integration_id>/owner")
class Owner(MethodView):
    @blp.response(200, OwnerSchema)
    @blp.problems(401, 404)
    def get(self, integration_id):
        """The owning user or team"""
        return sharing.owner(db_session(), current_user(), integration_id)

    @blp.arguments(OwnerChangeSchema)
    @blp.response(200, OwnerSchema)
    @blp.problems(400, 401, 403, 404, 412, 413, 415)
    def put(self, values, integration_id):
        """Transfer ownership to a user or team (owner or administrator)"""
        return sharing.transfer(current_actor(), integration_id, values["principal_id"],
                                if_match(OwnerSchema().dump))


def _put_share(integration_id: str, principal_id: str, access_level: int):
    share, created = sharing.share(current_actor(), integration_id, principal_id, access_level,
                                   if_match(ShareSchema().dump))
    if created:
        return share, 201, {"Location": _share_href(share)}
    return share
