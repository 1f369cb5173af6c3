"""``/api/tags`` and the tags of an integration."""

import marshmallow as ma
from flask.views import MethodView

from integration_hub.api.common import HalSchema, SearchPageArgsSchema, hal_page, href, page_schema
from integration_hub.api.extensions import Blueprint
from integration_hub.db.session import db_session
from integration_hub.edge.conditional import if_match
from integration_hub.edge.security import current_actor, current_user
from integration_hub.hal.forms import template
from integration_hub.integrations import store as integrations
from integration_hub.integrations import tags

blp = Blueprint("tags", __name__, url_prefix="/api", description="Tags for integrations")
ENTRY_POINTS = {"inf:tags": "tags.Tags"}


class TagUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    color = ma.fields.String(allow_none=True, validate=ma.validate.Regexp(
        tags.COLOR, error="must be a hex colour like #1a2b3c"))


class TagSchema(HalSchema, TagUpdateSchema):
    id = ma.fields.String(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    created_by = ma.fields.String(data_key="createdBy", dump_only=True)
    created_at = ma.fields.DateTime(data_key="createdAt", dump_only=True)

    def hal_links(self, tag):
        return {"self": {"href": href("tags.Tag", tag_id=tag.id)},
                "inf:tags": {"href": href("tags.Tags")},
                "inf:integrations": {"href": href("integrations.Integrations", tag=tag.id)}}

    def hal_templates(self, tag):
        if not tags.may_change(current_user(), tag):
            return {}
        me = href("tags.Tag", tag_id=tag.id)
        return {"default": template("PUT", me, TagUpdateSchema(), title="Rename or recolour",
                                    values={"name": tag.name, "color": tag.color}),
                "delete": template("DELETE", me, title="Delete the tag everywhere")}


TagPageSchema = page_schema(TagSchema, "inf:tag", "TagPage")


@blp.route("/tags")
class Tags(MethodView):
    @blp.arguments(SearchPageArgsSchema, location="query")
    @blp.response(200, TagPageSchema)
    @blp.problems(401)
    def get(self, args):
        """The tenant's tags"""
        found, total = tags.list_tags(db_session(), current_user().tenant_id, args.get("q"),
                                      args["start"], args["limit"])
        return hal_page("tags.Tags", "inf:tag", found, args["start"], args["limit"], total,
                        templates=lambda: {"default": template(
                            "POST", href("tags.Tags"), TagSchema(), title="Create a tag")})

    @blp.arguments(TagSchema)
    @blp.response(201, TagSchema)
    @blp.problems(400, 401, 409, 413, 415)
    def post(self, values):
        """Create a tag (names are unique per tenant, ignoring case)"""
        tag = tags.create(current_actor(), values)
        return tag, 201, {"Location": href("tags.Tag", tag_id=tag.id)}


@blp.route("/tags/<tag_id>")
class Tag(MethodView):
    @blp.response(200, TagSchema)
    @blp.problems(401, 404)
    def get(self, tag_id):
        """One tag"""
        return tags.get_tag(db_session(), current_user().tenant_id, tag_id)

    @blp.arguments(TagUpdateSchema)
    @blp.response(200, TagSchema)
    @blp.problems(400, 401, 403, 404, 409, 412, 413, 415)
    def put(self, changes, tag_id):
        """Rename or recolour a tag (its creator or an administrator)"""
        return tags.update(current_actor(), tag_id, changes, if_match(TagSchema().dump))

    @blp.response(204)
    @blp.problems(401, 403, 404, 412)
    def delete(self, tag_id):
        """Delete a tag and remove it from every integration (its creator or an administrator)"""
        tags.delete(current_actor(), tag_id, if_match(TagSchema().dump))


@blp.route("/integrations/<integration_id>/tags")
class IntegrationTags(MethodView):
    @blp.response(200, TagPageSchema)
    @blp.problems(401, 404)
    def get(self, integration_id):
        """The tags on an integration"""
        integration = integrations.find(db_session(), current_user(), integration_id).integration
        assigned = list(integration.tags)
        return hal_page("tags.IntegrationTags", "inf:tag", assigned, 0, max(len(assigned), 1),
                        len(assigned), integration_id=integration.id)


@blp.route("/integrations/<integration_id>/tags/<tag_id>")
class IntegrationTag(MethodView):
    @blp.response(200, TagSchema)
    @blp.alt_response(201, schema=TagSchema, description="Tag added")
    @blp.problems(401, 403, 404)
    def put(self, integration_id, tag_id):
        """Tag an integration (write access)"""
        tag, added = tags.tag(current_actor(), integration_id, tag_id)
        return tag, 201 if added else 200

    @blp.response(204)
    @blp.problems(401, 403, 404)
    def delete(self, integration_id, tag_id):
        """Remove a tag from an integration (write access)"""
        tags.untag(current_actor(), integration_id, tag_id)
