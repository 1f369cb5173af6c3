"""``/api/audit``: the tenant's audit log (tenant administrators only)."""

import marshmallow as ma
from flask.views import MethodView

from integration_hub.api.common import HalSchema, PageArgsSchema, hal_page, href, page_schema
from integration_hub.api.extensions import Blueprint
from integration_hub.audit import entries as audit
from integration_hub.db.session import db_session
from integration_hub.edge.security import current_user

blp = Blueprint("audit", __name__, url_prefix="/api",
                description="Audit log: administrative actions, who did them and how they ended")
ADMIN_ENTRY_POINTS = {"inf:audit": "audit.AuditLog"}


class AuditQueryArgsSchema(PageArgsSchema):
    actor = ma.fields.String(metadata={"description": "Username of the actor"})
    action = ma.fields.String(metadata={
        "description": "An action (integration.update), or a prefix ending in a dot (integration.)"})
    target_type = ma.fields.String(data_key="targetType")
    target_id = ma.fields.String(data_key="targetId")
    outcome = ma.fields.String(validate=ma.validate.OneOf(audit.OUTCOMES))
    since = ma.fields.AwareDateTime(metadata={"description": "From this time (inclusive)"})
    until = ma.fields.AwareDateTime(metadata={"description": "Before this time (exclusive)"})


class AuditEntrySchema(HalSchema):
    id = ma.fields.String()
    at = ma.fields.DateTime()
    actor = ma.fields.String(allow_none=True, metadata={
        "description": "Username; null for an operator on the command line"})
    channel = ma.fields.String(metadata={"description": "api, web (pages and the OAuth "
                                                        "callback) or cli"})
    source_ip = ma.fields.String(data_key="sourceIp", allow_none=True)
    action = ma.fields.String()
    target_type = ma.fields.String(data_key="targetType", allow_none=True)
    target_id = ma.fields.String(data_key="targetId", allow_none=True)
    outcome = ma.fields.String(metadata={"description": "success, denied or failed"})
    error_code = ma.fields.String(data_key="errorCode", allow_none=True)
    detail = ma.fields.Dict(metadata={"description": "What changed (field names, never secrets)"})
    count = ma.fields.Integer(metadata={
        "description": "How many times it happened: a refused or failed attempt repeated "
                       "within the hour of `at` is counted here, not entered again"})
    last_at = ma.fields.DateTime(data_key="lastAt", allow_none=True, metadata={
        "description": "When it last happened, for a count above 1"})

    def hal_links(self, entry):
        return {"self": {"href": href("audit.AuditEntry", entry_id=entry.id)},
                "inf:audit": {"href": href("audit.AuditLog")}}


AuditPageSchema = page_schema(AuditEntrySchema, "inf:audit-entry", "AuditPage")


@blp.route("/audit")
class AuditLog(MethodView):
    @blp.arguments(AuditQueryArgsSchema, location="query")
    @blp.response(200, AuditPageSchema)
    @blp.problems(401, 403)
    def get(self, args):
        """Administrative actions of the tenant, newest first (superusers)"""
        start, limit = args.pop("start"), args.pop("limit")
        entries, total = audit.page(db_session(), current_user(), audit.AuditFilters(**args),
                                    start, limit)
        return hal_page("audit.AuditLog", "inf:audit-entry", entries, start, limit, total)


@blp.route("/audit/<entry_id>")
class AuditEntry(MethodView):
    @blp.response(200, AuditEntrySchema)
    @blp.problems(401, 403, 404)
    def get(self, entry_id):
        """One audit entry (superusers)"""
        return audit.get(db_session(), current_user(), entry_id)
