"""Schemas of webhooks, their deliveries and delivery attempts."""

import marshmallow as ma

from integration_hub.api.common import HalSchema, href, page_schema
from integration_hub.hal.forms import template
from integration_hub.records.names import MODEL_PATTERN
from integration_hub.webhooks.rules import ALL_EVENTS, EVENT_TYPES

_EVENT_NAMES = ma.validate.OneOf((*EVENT_TYPES, ALL_EVENTS))


def _model_name(value: str) -> None:
    """The records store's rule for model names (a webhook narrowed to a model no record
    can have would receive nothing, without saying so)."""
    if not MODEL_PATTERN.match(value):
        raise ma.ValidationError("1-64 letters, digits, '_', '.' or '-', starting with a "
                                 "letter or digit")


class WebhookSchema(HalSchema):
    id = ma.fields.String(dump_only=True)
    url = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000),
                           metadata={"description": "Where deliveries are POSTed (http or https)"})
    description = ma.fields.String(validate=ma.validate.Length(max=1000))
    events = ma.fields.List(ma.fields.String(validate=_EVENT_NAMES), required=True,
                            validate=ma.validate.Length(min=1, max=len(EVENT_TYPES) + 1),
                            metadata={"description": "Event types to receive; * for all"})
    integration_id = ma.fields.String(
        data_key="integration", allow_none=True, validate=ma.validate.Length(min=1, max=36),
        metadata={"description": "Record events (record.*) only of this integration of the "
                  "tenant; null: of every integration. Other events are not narrowed. The "
                  "webhook is deleted with the integration"})
    model = ma.fields.String(
        allow_none=True, validate=[ma.validate.Length(min=1, max=64), _model_name],
        metadata={"description": "Record events (record.*) only of this records model; "
                  "null: of every model. Other events are not narrowed"})
    secret = ma.fields.String(load_only=True, validate=ma.validate.Length(min=16, max=256),
                              metadata={"description": "Signs every delivery (HMAC-SHA256); "
                                        "write-only. Generated when omitted on create"})
    enabled = ma.fields.Boolean(metadata={"description": "false stops deliveries; a webhook "
                                          "failing for a day is switched off by the hub"})
    disabled_reason = ma.fields.String(data_key="disabledReason", dump_only=True, allow_none=True)
    disabled_at = ma.fields.DateTime(data_key="disabledAt", dump_only=True, allow_none=True)
    failing_since = ma.fields.DateTime(data_key="failingSince", dump_only=True, allow_none=True)
    last_delivery_at = ma.fields.DateTime(data_key="lastDeliveryAt", dump_only=True,
                                          allow_none=True)
    last_delivery_status = ma.fields.String(data_key="lastDeliveryStatus", dump_only=True,
                                            allow_none=True)
    hub_url = ma.fields.String(data_key="hubUrl", dump_only=True, metadata={
        "description": "The hub's external URL that payload links start with"})
    created_by = ma.fields.String(data_key="createdBy", dump_only=True)
    created_at = ma.fields.DateTime(data_key="createdAt", dump_only=True)
    updated_at = ma.fields.DateTime(data_key="updatedAt", dump_only=True)

    def hal_links(self, hook):
        links = {"self": {"href": href("webhooks.Webhook", webhook_id=hook.id)},
                 "inf:webhook-deliveries": {"href": href("webhooks.Deliveries",
                                                         webhook_id=hook.id)},
                 "inf:webhook-ping": {"href": href("webhooks.Ping", webhook_id=hook.id)},
                 "inf:webhooks": {"href": href("webhooks.Webhooks")}}
        if hook.integration_id is not None:
            links["inf:integration"] = {"href": href("integrations.Integration",
                                                     integration_id=hook.integration_id)}
        return links

    def hal_templates(self, hook):
        """Webhooks are administrators' alone: whoever reads one may change it."""
        me = href("webhooks.Webhook", webhook_id=hook.id)
        current = {"url": hook.url, "description": hook.description, "events": hook.events,
                   "integration": hook.integration_id, "model": hook.model,
                   "enabled": hook.enabled}
        return {"default": template("PUT", me, WebhookUpdateSchema(), title="Change the webhook",
                                    values=current),
                "delete": template("DELETE", me, title="Delete the webhook"),
                "ping": template("POST", href("webhooks.Ping", webhook_id=hook.id),
                                 title="Send a test delivery now")}


class WebhookUpdateSchema(WebhookSchema):
    """Omitted fields keep their value (PUT is partial, like integrations)."""

    url = ma.fields.String(validate=ma.validate.Length(min=1, max=2000))
    events = ma.fields.List(ma.fields.String(validate=_EVENT_NAMES),
                            validate=ma.validate.Length(min=1, max=len(EVENT_TYPES) + 1))


class CreatedWebhookSchema(WebhookSchema):
    secret_generated = ma.fields.String(data_key="secret", dump_only=True, metadata={
        "description": "The generated secret (when none was given); shown only in this answer"})

    @ma.post_dump
    def _only_a_generated_secret(self, data, **_):
        if data.get("secret") is None:
            data.pop("secret", None)
        return data


WebhookPageSchema = page_schema(WebhookSchema, "inf:webhook", "WebhookPage")


class AttemptSchema(ma.Schema):
    number = ma.fields.Integer()
    started_at = ma.fields.DateTime(data_key="startedAt")
    duration_ms = ma.fields.Integer(data_key="durationMs")
    response_status = ma.fields.Integer(data_key="responseStatus", allow_none=True,
                                        metadata={"description": "The receiver's HTTP status"})
    outcome = ma.fields.String(metadata={"description": "succeeded or failed"})
    error_code = ma.fields.String(data_key="errorCode", allow_none=True)
    error = ma.fields.String(allow_none=True)


class DeliverySchema(HalSchema):
    id = ma.fields.String()
    event_id = ma.fields.String(data_key="eventId", metadata={
        "description": "The same for every webhook told about this event (idempotency key)"})
    event = ma.fields.String(attribute="event_type")
    status = ma.fields.String(metadata={"description": "pending, succeeded or failed"})
    attempt_count = ma.fields.Integer(data_key="attemptCount")
    max_attempts = ma.fields.Integer(data_key="maxAttempts")
    next_attempt_at = ma.fields.DateTime(data_key="nextAttemptAt", allow_none=True)
    created_at = ma.fields.DateTime(data_key="createdAt")
    completed_at = ma.fields.DateTime(data_key="completedAt", allow_none=True)
    attempts = ma.fields.List(ma.fields.Nested(AttemptSchema))

    def hal_links(self, delivery):
        return {"self": {"href": href("webhooks.Delivery", webhook_id=delivery.webhook_id,
                                      delivery_id=delivery.id)},
                "inf:webhook": {"href": href("webhooks.Webhook", webhook_id=delivery.webhook_id)}}


class DeliveryWithBodySchema(DeliverySchema):
    body = ma.fields.Raw(metadata={"description": "The exact JSON body sent (and signed)"})


DeliveryPageSchema = page_schema(DeliverySchema, "inf:webhook-delivery", "WebhookDeliveryPage")
