"""``/api/integrations``: the integrations the caller may see, and changing them."""

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from integration_hub.api.auditing import audit_success, audited
from integration_hub.api.common import hal_page, href
from integration_hub.api.extensions import Blueprint
from integration_hub.api.integrations.schemas import (
    DeleteArgsSchema,
    IntegrationCreateSchema,
    IntegrationListItemSchema,
    IntegrationPageSchema,
    IntegrationQueryArgsSchema,
    IntegrationSchema,
    IntegrationUpdateSchema,
)
from integration_hub.connections import store as connections
from integration_hub.db.session import db_session, transaction
from integration_hub.edge.conditional import check_if_match
from integration_hub.edge.security import current_user
from integration_hub.hal.forms import template
from integration_hub.integrations import acl, provisioning
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
    @audited("integration.create", "integration")
    def post(self, values):
        """Register an integration (superusers and integrations.create)"""
        with transaction() as session:
            integration = integrations.create(session, current_user(), values)
            audit_success(session, integration.id, name=integration.name, type=integration.type,
                          fields=sorted(values))
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
    @audited("integration.create", "integration")
    def post(self, values):
        """Get or create the integration for a catalogue type (idempotent)"""
        with transaction() as session:
            integration, created = provisioning.provision(
                session, current_user(), values["driver_type"], current_app.config["HUB_SETTINGS"])
            if created:
                audit_success(session, integration.id, name=integration.name,
                              type=integration.type, provisioned=True)
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
    @audited("integration.update", "integration", "integration_id")
    def put(self, changes, integration_id):
        """Change an integration; omitted fields and secrets keep their value, null clears"""
        return _update(changes, integration_id)

    @blp.arguments(IntegrationUpdateSchema)
    @blp.response(200, IntegrationSchema)
    @blp.problems(400, 401, 403, 404, 412, 413, 415)
    @audited("integration.update", "integration", "integration_id")
    def patch(self, changes, integration_id):
        """Same as PUT"""
        return _update(changes, integration_id)

    @blp.arguments(DeleteArgsSchema, location="query")
    @blp.response(204)
    @blp.problems(401, 403, 404, 409, 412)
    @audited("integration.delete", "integration", "integration_id")
    def delete(self, args, integration_id):
        """Delete an integration (owner or administrator)"""
        user = current_user()
        with transaction() as session:
            found = integrations.find(session, user, integration_id)
            check_if_match(IntegrationSchema().dump(found.integration))
            integrations.delete(session, user, found, force=args["force"])
            audit_success(session, found.integration.id, name=found.integration.name,
                          forced=args["force"])


def _collection_templates() -> dict:
    """Register one (with the permission), or get the one of a catalogue type."""
    found = {"provision": template("POST", href("integrations.Provision"), ProvisionSchema(),
                                   title="Get or create the integration of a catalogue type")}
    if acl.can_create(current_user()):
        found["default"] = template("POST", href("integrations.Integrations"),
                                    IntegrationCreateSchema(), title="Register an integration",
                                    required=("name", "type"))
    return found


def _update(changes, integration_id):
    user = current_user()
    with transaction() as session:
        found = integrations.find(session, user, integration_id)
        check_if_match(IntegrationSchema().dump(found.integration))
        integration = integrations.update(session, user, found, changes)
        audit_success(session, integration.id, fields=sorted(changes))
    return integration
