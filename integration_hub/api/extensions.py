"""Library objects the app factory binds later: the API, its blueprints and parser."""

from __future__ import annotations

import http
from functools import wraps
from typing import Any

import flask_smorest
import marshmallow as ma
from flask import current_app, g, json, render_template, request, url_for
from flask_smorest.utils import prepare_response, resolve_schema_instance
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.exceptions import HTTPException

from integration_hub import errors, field_errors, json_body
from integration_hub.api.forms import add_templates, wants_hal_forms
from integration_hub.config import current_settings
from integration_hub.edge import text_guard
from integration_hub.hal.documents import HAL_JSON


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, as every error of the hub is answered. Problems may carry
    extension members (``_links`` with ``inf:connect``, a refused import's counts)."""

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(metadata={"description": "URN naming the problem type"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    code = ma.fields.String(metadata={"description": "Stable machine-readable error code"})
    errors = ma.fields.Raw(metadata={
        "description": "For validation errors: field name -> messages; for a refused "
                       "import: a list of {line, message}"})
    fields = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()),
                            metadata={"description": "For validation errors: the names of the "
                                      "fields that are missing, unknown and invalid"})


class HubParser(FlaskParser):
    """webargs parser answering in the hub's own error vocabulary.

    A body that is not JSON where JSON is expected is refused with 415 rather
    than read as "no fields"; unparsable or hostile JSON is 400 (see json_body.py);
    JSON that parses but breaks the schema is 422 (see docs/api-conventions.md).
    """

    def _raw_load_json(self, req):
        body = req.get_data(cache=True)
        if not body:
            return webargs_core.missing
        if not webargs_core.is_json(req.mimetype):
            raise errors.UnsupportedMediaType(
                f"send the body as application/json, not {req.mimetype or 'no content type'}")
        if len(body) > current_settings().max_json_body:
            raise errors.PayloadTooLarge(
                f"JSON bodies are limited to {current_app.config['HUB_MAX_JSON_BODY']} bytes")
        document = json_body.parse_request_body(body)
        text_guard.check_json(document)
        return document

    def load_form(self, req, schema):
        """A multipart form's files are fields of the form too: one documented schema."""
        if req.mimetype == "multipart/form-data":
            return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)
        return super().load_form(req, schema)

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        raise errors.MalformedBody("the body is not valid JSON")

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        messages = error.messages
        # Flatten {"json": {...}} / {"query": {...}}: callers know where they sent what.
        if isinstance(messages, dict) and len(messages) == 1:
            (only,) = messages.values()
            if isinstance(only, dict):
                messages = only
        if not isinstance(messages, dict):
            messages = {field_errors.WHOLE: messages if isinstance(messages, list) else [str(messages)]}
        raise errors.ValidationFailed(field_errors.summary(messages), errors=messages)


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint whose responses are HAL unless stated otherwise."""

    ARGUMENTS_PARSER = HubParser()

    def response(self, status_code, schema=None, *, content_type=HAL_JSON, **kwargs):
        documented = super().response(status_code, schema, content_type=content_type, **kwargs)
        schema_instance = resolve_schema_instance(schema) if schema is not None else None

        def decorator(func):
            @wraps(func)
            def remembering(*args, **kw):
                """Keep what the view returned: HAL-FORMS templates are built from it."""
                result = func(*args, **kw)
                g.hub_answer = result[0] if isinstance(result, tuple) else result
                return result

            inner = documented(remembering)

            @wraps(inner)
            def view(*args, **kw):
                result = inner(*args, **kw)
                if result.status_code == 204:
                    result.headers.pop("Content-Type", None)
                    return result
                if (result.mimetype == "application/json" and content_type != "application/json"
                        and "*" not in content_type):  # */*: the upstream's own type stays
                    result.mimetype = content_type
                if result.mimetype == HAL_JSON:
                    result.vary.add("Accept")
                    if wants_hal_forms():
                        add_templates(result, schema_instance, g.pop("hub_answer", None))
                return result

            return view

        return decorator

    def problems(self, *statuses: int):
        """Document the problem+json answers an operation can give."""

        def decorator(func):
            for status in statuses:
                func = self.alt_response(status, response=http.HTTPStatus(status).name)(func)
            return func

        return decorator


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ProblemSchema
    DEFAULT_RESPONSE_CONTENT_TYPE = HAL_JSON

    def _register_responses(self):
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                prepare_response(response, self.spec, errors.PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, errors.PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def _openapi_json(self):
        """The document. Its paths start at /api; served under a path prefix (``HUB_PUBLIC_URL``
        or a trusted ``X-Forwarded-Prefix``), it names that prefix as its server, so clients
        (the API docs page's Try it out among them) call the hub where it is."""
        document = self.spec.to_dict()
        if request.script_root:
            document = {**document, "servers": [{"url": request.script_root}]}
        return current_app.response_class(
            json.dumps(document, indent=2, sort_keys=False), mimetype="application/json")

    def _openapi_swagger_ui(self):
        """Swagger UI 5 with its files served by the hub itself (prefix-aware; api/docs_page.py).
        The page has no inline script: the document's address and any
        ``OPENAPI_SWAGGER_UI_CONFIG`` travel in data attributes to the hub's start-up script."""
        return render_template(
            "api_docs.html", title=self.spec.title,
            assets=url_for("api_docs_assets", filename="_")[:-1],
            spec_url=url_for(f"{self._make_doc_blueprint_name()}.openapi_json"),
            swagger_ui_config=self.config.get("OPENAPI_SWAGGER_UI_CONFIG", {}))

    def handle_http_exception(self, error: HTTPException):
        """Werkzeug's own errors (404 route, 405, 413 ...) as problem+json."""
        cls = errors.http_error_class(error.code or 500)
        headers = {}
        if error.code == 405:
            allowed = error.get_headers(request.environ)
            headers = {k: v for k, v in allowed if k.lower() == "allow"}
        detail = error.description if cls is not errors.HubError else None
        if error.code == 404:
            detail = "there is nothing at this address"
        return errors.problem_response(cls(detail, headers=headers))

