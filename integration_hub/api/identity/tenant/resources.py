"""``/api/tenant``: the caller's organisation."""

import marshmallow as ma
from flask.views import MethodView

from integration_hub.api.common import HalSchema, href
from integration_hub.api.extensions import Blueprint
from integration_hub.edge.conditional import if_match
from integration_hub.edge.security import current_actor, current_tenant
from integration_hub.identity import tenants

blp = Blueprint("tenant", __name__, url_prefix="/api", description="Your tenant")
ENTRY_POINTS = {"inf:tenant": "tenant.Tenant"}


class TenantUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=128))
    settings = ma.fields.Dict(keys=ma.fields.String(), allow_none=True, metadata={
        "description": "Free-form settings, usable in header templates as ${tenant.<name>}"})


class TenantSchema(HalSchema, TenantUpdateSchema):
    id = ma.fields.String(dump_only=True)
    created_at = ma.fields.DateTime(data_key="createdAt", dump_only=True)
    updated_at = ma.fields.DateTime(data_key="updatedAt", dump_only=True)

    def hal_links(self, tenant):
        return {"self": {"href": href("tenant.Tenant")},
                "inf:users": {"href": href("users.Users")},
                "inf:teams": {"href": href("teams.Teams")}}


@blp.route("/tenant")
class Tenant(MethodView):
    @blp.response(200, TenantSchema)
    @blp.problems(401)
    def get(self):
        """Your tenant"""
        return current_tenant()

    @blp.arguments(TenantUpdateSchema)
    @blp.response(200, TenantSchema)
    @blp.problems(400, 401, 403, 412, 413, 415)
    def put(self, changes):
        """Rename the tenant or replace its settings (administrators)"""
        return tenants.update(current_actor(), changes, if_match(TenantSchema().dump))
