"""``GET /api``, the one address a client needs, and the relation pages."""

import marshmallow as ma
from flask import current_app, g, render_template
from flask.views import MethodView

from integration_hub.api.common import href, template_href
from integration_hub.api.extensions import Blueprint
from integration_hub.edge.security import public
from integration_hub.errors import NotFound
from integration_hub.hal import documents as hal
from integration_hub.hal import relations as rels

blp = Blueprint("root", __name__, url_prefix="/api", description="The API root")

ENTRY_POINTS_KEY = "integration_hub.entry_points"
# Entry points only tenant administrators may use (webhooks, audit): others do not see them.
ADMIN_ENTRY_POINTS_KEY = "integration_hub.admin_entry_points"


class RootSchema(ma.Schema):
    links = ma.fields.Dict(attribute="_links", data_key="_links", keys=ma.fields.String(),
                           values=ma.fields.Raw(), dump_only=True, metadata={
                               "description": "self, curies and one link per entry point"})
    name = ma.fields.String(dump_only=True)
    version = ma.fields.String(dump_only=True)


def root_links() -> dict:
    links = {
        "self": hal.link(href("root.Root")),
        "curies": hal.curies(template_href("root.Relation", rel="{rel}")),
        "describedby": hal.link(href("api-docs.openapi_json"), type="application/json"),
        "profile": hal.link(href("root.Relation", rel="root")),
    }
    entry_points = dict(current_app.extensions[ENTRY_POINTS_KEY])
    user = g.get("user")
    if user is not None and user.superuser:
        entry_points.update(current_app.extensions[ADMIN_ENTRY_POINTS_KEY])
    for rel, endpoint in entry_points.items():
        links[rel] = hal.link(href(endpoint))
    return links


@blp.route("")
class Root(MethodView):
    @blp.response(200, RootSchema)
    @blp.problems(401)
    def get(self):
        """Links to every entry point of the API"""
        return {"_links": root_links(), "name": "integration-hub",
                "version": current_app.config["API_VERSION"]}


@public
@blp.route("/rels/<rel>")
class Relation(MethodView):
    @blp.response(200, content_type="text/html")
    @blp.problems(404)
    def get(self, rel):
        """A short page describing one link relation"""
        description = rels.describe(rel)
        if description is None:
            raise NotFound(f"the hub uses no relation named {rel!r}")
        return current_app.response_class(
            render_template("rel.html", rel=rel, description=description), mimetype="text/html")

