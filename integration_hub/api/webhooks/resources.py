"""``/api/webhooks``: the tenant's webhook subscriptions, their deliveries and pings
(tenant administrators only)."""

from flask import request
from flask.views import MethodView

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
from integration_hub.config import current_settings
from integration_hub.db.session import db_session
from integration_hub.edge.conditional import if_match
from integration_hub.edge.security import current_actor, current_user
from integration_hub.hal.forms import template
from integration_hub.webhooks import administration as webhook_admin
from integration_hub.webhooks import subscriptions as webhooks

blp = Blueprint("webhooks", __name__, url_prefix="/api",
                description="Webhooks: signed event deliveries to your endpoints")
ADMIN_ENTRY_POINTS = {"inf:webhooks": "webhooks.Webhooks"}


def _hub_url() -> str:
    """The hub's external base URL as this request sees it (HUB_PUBLIC_URL, else the
    forwarded scheme, host and prefix)."""
    return current_settings().public_url or request.url_root.rstrip("/")


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
    def post(self, values):
        """Subscribe a URL to events; a generated secret is shown only in this answer"""
        hook, generated = webhook_admin.create(current_actor(), values, _hub_url())
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
    def put(self, changes, webhook_id):
        """Change a webhook; omitted fields keep their value; enabled: true switches a
        switched-off webhook on again"""
        return webhook_admin.update(current_actor(), webhook_id, changes, _hub_url(),
                                 if_match(WebhookSchema().dump))

    @blp.response(204)
    @blp.problems(401, 403, 404, 412)
    def delete(self, webhook_id):
        """Delete a webhook and its delivery history"""
        webhook_admin.delete(current_actor(), webhook_id, if_match(WebhookSchema().dump))


@blp.route("/webhooks/<webhook_id>/ping")
class Ping(MethodView):
    @blp.response(202, DeliveryWithBodySchema)
    @blp.problems(401, 403, 404)
    def post(self, webhook_id):
        """Send a ping event now (one attempt); follow Location for its result"""
        delivery = webhook_admin.ping(current_actor(), webhook_id)
        return delivery, 202, {"Location": href("webhooks.Delivery",
                                                webhook_id=delivery.webhook_id,
                                                delivery_id=delivery.id)}


@blp.route("/webhooks/<webhook_id>/deliveries")
class Deliveries(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, DeliveryPageSchema)
    @blp.problems(401, 403, 404)
    def get(self, args, webhook_id):
        """The webhook's deliveries, newest first, each with every attempt"""
        hook, items, total = webhooks.delivery_page(db_session(), current_user(), webhook_id,
                                                   args["start"], args["limit"])
        return hal_page("webhooks.Deliveries", "inf:webhook-delivery", items, args["start"],
                        args["limit"], total, webhook_id=hook.id)


@blp.route("/webhooks/<webhook_id>/deliveries/<delivery_id>")
class Delivery(MethodView):
    @blp.response(200, DeliveryWithBodySchema)
    @blp.problems(401, 403, 404)
    def get(self, webhook_id, delivery_id):
        """One delivery: its attempts and the exact body that was signed"""
        return webhooks.delivery_of(db_session(), current_user(), webhook_id, delivery_id)
