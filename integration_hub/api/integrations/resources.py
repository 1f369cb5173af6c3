"""``/api/integrations``: the integrations the caller may see, and changing them."""

import marshmallow as ma
from flask.views import MethodView

from integration_hub.api.common import hal_page, href
from integration_hub.api.extensions import Blueprint
from integration_hub.api.integrations.schemas import (
    DeleteArgsSchema,
    IntegrationCreateSchema,
    IntegrationListItemSchema,
    IntegrationPageSchema,
    IntegrationPatchSchema,
    IntegrationQueryArgsSchema,
    IntegrationSchema,
    IntegrationUpdateSchema,
)
from integration_hub.connections import store as connections
from integration_hub.db.session import db_session
from integration_hub.edge.conditional import if_match
from integration_hub.edge.security import current_actor, current_user
from integration_hub.hal.forms import template
from integration_hub.integrations import acl, lifecycle, provisioning
from integration_hub.integrations import store as integrations

blp = Blueprint("integrations", __name__, url_prefix="/api",
                description="Integrations: registered external systems")
ENTRY_POINTS = {"inf:integrations": "integrations.Integrations",
                "inf:integrations-list": "integrations.IntegrationsList"}


@blp.route("/integrations")
class Integrations(MethodView):
    @blp.arguments(IntegrationQueryArgsSchema, location="query")
    @blp.response(200, IntegrationPageSchema)
    @blp.problems(401)
    def get(self, args):
        """Readable, non-embedded integrations, a page at a time"""
        start, limit = args.pop("start"), args.pop("limit")
        items, total = integrations.list_page(db_session(), current_user(), args, start, limit)
        return hal_page("integrations.Integrations", "inf:integration", items, start, limit, total,
                        templates=_collection_templates)

    @blp.arguments(IntegrationCreateSchema)
    @blp.response(201, IntegrationSchema)
    @blp.problems(400, 401, 403, 404, 409, 413, 415)
    def post(self, values):
        """Register an integration (superusers and integrations.create)"""
        integration = lifecycle.register(current_actor(), values)
        return integration, 201, {
            "Location": href("integrations.Integration", integration_id=integration.id)}


class ProvisionSchema(ma.Schema):
    driver_type = ma.fields.String(data_key="driverType", required=True,
                                   validate=ma.validate.Length(min=1, max=64), metadata={
                                       "description": "Catalogue type or alias, e.g. google-drive"})


@blp.route("/integrations/provision")
class Provision(MethodView):
    @blp.arguments(ProvisionSchema)
    @blp.response(200, IntegrationSchema, description="An integration of the type already exists")
    @blp.alt_response(201, schema=IntegrationSchema, description="Created from the catalogue")
    @blp.problems(400, 401, 403, 409, 413, 415)
    def post(self, values):
        """Get or create the integration for a catalogue type (idempotent)"""
        integration, created = provisioning.provision(current_actor(), values["driver_type"])
        if created:
            return integration, 201, {
                "Location": href("integrations.Integration", integration_id=integration.id)}
        return integration


@blp.route("/integrations-list")
class IntegrationsList(MethodView):
    @blp.response(200, IntegrationListItemSchema(many=True), content_type="application/json")
    @blp.problems(401)
    def get(self):
        """Every readable integration as a flat array, with tags and sharing"""
        session, user = db_session(), current_user()
        items = integrations.list_all(session, user)
        connected = connections.connected_integration_ids(session, user, items)
        for item in items:  # what the caller can use right now
            item.connected = item.id in connected or integrations.usable_without_connection(item)
        return items


@blp.route("/integrations/<integration_id>")
class Integration(MethodView):
    @blp.response(200, IntegrationSchema)
    @blp.problems(401, 404)
    def get(self, integration_id):
        """One integration (by id or slug)"""
        return integrations.find(db_session(), current_user(), integration_id).integration

    @blp.arguments(IntegrationUpdateSchema)
    @blp.response(200, IntegrationSchema)
    @blp.problems(400, 401, 403, 404, 412, 413, 415)
    def put(self, changes, integration_id):
        """Change an integration; omitted fields and secrets keep their value, null clears"""
        return lifecycle.update(current_actor(), integration_id, changes,
                                if_match(IntegrationSchema().dump))

    @blp.arguments(IntegrationPatchSchema, content_type="application/merge-patch+json")
    @blp.response(200, IntegrationSchema)
    @blp.problems(400, 401, 403, 404, 412, 413, 415)
    def patch(self, changes, integration_id):
        """Change an integration as PUT does, merging data and headers (JSON merge patch)"""
        return lifecycle.update(current_actor(), integration_id, changes,
                                if_match(IntegrationSchema().dump), merge=True)

    @blp.arguments(DeleteArgsSchema, location="query")
    @blp.response(204)
    @blp.problems(401, 403, 404, 409, 412)
    def delete(self, args, integration_id):
        """Delete an integration (owner or administrator)"""
        lifecycle.delete(current_actor(), integration_id, args["force"],
                         if_match(IntegrationSchema().dump))


def _collection_templates() -> dict:
    """Register one (with the permission), or get the one of a catalogue type."""
    found = {"provision": template("POST", href("integrations.Provision"), ProvisionSchema(),
                                   title="Get or create the integration of a catalogue type")}
    if acl.can_create(current_user()):
        found["default"] = template("POST", href("integrations.Integrations"),
                                    IntegrationCreateSchema(), title="Register an integration",
                                    required=("name", "type"))
    return found
