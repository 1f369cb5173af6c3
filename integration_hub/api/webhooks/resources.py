"""``/api/webhooks``: the tenant's webhook subscriptions, their deliveries and pings
(tenant administrators only)."""

from flask import current_app, request
from flask.views import MethodView

from integration_hub.api.auditing import audit_success, audited
from integration_hub.api.common import PageArgsSchema, hal_page, href
from integration_hub.api.extensions import Blueprint
from integration_hub.api.webhooks.schemas import (
    CreatedWebhookSchema,
    DeliveryPageSchema,
    DeliveryWithBodySchema,
    WebhookPageSchema,
    WebhookSchema,
    WebhookUpdateSchema,
)
from integration_hub.db.session import db_session, transaction
from integration_hub.edge.conditional import check_if_match
from integration_hub.edge.security import current_user
from integration_hub.hal.forms import template
from integration_hub.webhooks import subscriptions as webhooks

blp = Blueprint("webhooks", __name__, url_prefix="/api",
                description="Webhooks: signed event deliveries to your endpoints")
ADMIN_ENTRY_POINTS = {"inf:webhooks": "webhooks.Webhooks"}


def _hub_url() -> str:
    """The hub's external base URL as this request sees it (HUB_PUBLIC_URL, else the
    forwarded scheme, host and prefix)."""
    return current_app.config["HUB_SETTINGS"].public_url or request.url_root.rstrip("/")


@blp.route("/webhooks")
class Webhooks(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, WebhookPageSchema)
    @blp.problems(401, 403)
    def get(self, args):
        """The tenant's webhooks"""
        items, total = webhooks.list_page(db_session(), current_user(), args["start"], args["limit"])
        return hal_page("webhooks.Webhooks", "inf:webhook", items, args["start"], args["limit"],
                        total, templates=lambda: {"default": template(
                            "POST", href("webhooks.Webhooks"), WebhookSchema(),
                            title="Subscribe a URL to events")})

    @blp.arguments(WebhookSchema)
    @blp.response(201, CreatedWebhookSchema)
    @blp.problems(400, 401, 403, 413, 415)
    @audited("webhook.create", "webhook")
    def post(self, values):
        """Subscribe a URL to events; a generated secret is shown only in this answer"""
        with transaction() as session:
            hook, generated = webhooks.create(session, current_user(), values, _hub_url())
            audit_success(session, hook.id, url=hook.url, events=hook.events)
        hook.secret_generated = generated
        headers = {"Location": href("webhooks.Webhook", webhook_id=hook.id)}
        if generated:
            headers["Cache-Control"] = "no-store"
        return hook, 201, headers


@blp.route("/webhooks/<webhook_id>")
class Webhook(MethodView):
    @blp.response(200, WebhookSchema)
    @blp.problems(401, 403, 404)
    def get(self, webhook_id):
        """One webhook (never its secret)"""
        return webhooks.get(db_session(), current_user(), webhook_id)

    @blp.arguments(WebhookUpdateSchema)
    @blp.response(200, WebhookSchema)
    @blp.problems(400, 401, 403, 404, 412, 413, 415)
    @audited("webhook.update", "webhook", "webhook_id")
    def put(self, changes, webhook_id):
        """Change a webhook; omitted fields keep their value; enabled: true switches a
        switched-off webhook on again"""
        with transaction() as session:
            hook = webhooks.get(session, current_user(), webhook_id)
            check_if_match(WebhookSchema().dump(hook))
            webhooks.update(session, hook, changes, _hub_url())
            audit_success(session, changed=sorted(changes))
        return hook

    @blp.response(204)
    @blp.problems(401, 403, 404, 412)
    @audited("webhook.delete", "webhook", "webhook_id")
    def delete(self, webhook_id):
        """Delete a webhook and its delivery history"""
        with transaction() as session:
            hook = webhooks.get(session, current_user(), webhook_id)
            check_if_match(WebhookSchema().dump(hook))
            webhooks.delete(session, hook)
            audit_success(session, url=hook.url)


@blp.route("/webhooks/<webhook_id>/ping")
class Ping(MethodView):
    @blp.response(202, DeliveryWithBodySchema)
    @blp.problems(401, 403, 404)
    def post(self, webhook_id):
        """Send a ping event now (one attempt); follow Location for its result"""
        with transaction() as session:
            hook = webhooks.get(session, current_user(), webhook_id)
            delivery = webhooks.ping(session, current_user(), hook)
        return delivery, 202, {"Location": href("webhooks.Delivery", webhook_id=hook.id,
                                                delivery_id=delivery.id)}


@blp.route("/webhooks/<webhook_id>/deliveries")
class Deliveries(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, DeliveryPageSchema)
    @blp.problems(401, 403, 404)
    def get(self, args, webhook_id):
        """The webhook's deliveries, newest first, each with every attempt"""
        session = db_session()
        hook = webhooks.get(session, current_user(), webhook_id)
        items, total = webhooks.deliveries(session, hook, args["start"], args["limit"])
        return hal_page("webhooks.Deliveries", "inf:webhook-delivery", items, args["start"],
                        args["limit"], total, webhook_id=hook.id)


@blp.route("/webhooks/<webhook_id>/deliveries/<delivery_id>")
class Delivery(MethodView):
    @blp.response(200, DeliveryWithBodySchema)
    @blp.problems(401, 403, 404)
    def get(self, webhook_id, delivery_id):
        """One delivery: its attempts and the exact body that was signed"""
        session = db_session()
        return webhooks.get_delivery(session, webhooks.get(session, current_user(), webhook_id),
                                     delivery_id)
