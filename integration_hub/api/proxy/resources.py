"""``/api/integrations/{id}/request``: call the integration's API through the hub."""

from __future__ import annotations

import base64
import json

import marshmallow as ma
from flask import Response, current_app, request
from flask.views import MethodView

from integration_hub import json_body
from integration_hub.api.common import HalSchema, PageArgsSchema, hal_page, href, page_schema
from integration_hub.api.extensions import Blueprint
from integration_hub.api.proxy import hot_path
from integration_hub.api.proxy.answers import FIRST_CHUNK, raw_target, sandboxed, transparent
from integration_hub.config import current_settings
from integration_hub.db.session import db_session
from integration_hub.edge.request_framing import RequestBody
from integration_hub.edge.security import (
    api_token_only,
    authentication,
    current_user,
    token_scope,
)
from integration_hub.integrations import store as integrations
from integration_hub.outbound.upstream_http import (
    cleaned_caller_headers,
    forwardable_request_headers,
    response_headers,
    shared_pool,
)
from integration_hub.proxy import calls, request_log
from integration_hub.proxy import forwarding as proxy
from integration_hub.proxy.calls import elapsed_ms

blp = Blueprint("proxy", __name__, url_prefix="/api",
                description="The request proxy: call an integration's API with its credentials")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
PROXY_DOORS = frozenset({"proxy.Envelope", "proxy.Raw"})
TOKENS_ONLY = {"security": [{"bearerAuth": []}]}  # @api_token_only, as OpenAPI says it


@blp.after_request
def _sandboxed(response: Response) -> Response:
    """Every answer at the proxy's doors, the upstream's and the hub's own refusals."""
    return sandboxed(response) if request.endpoint in PROXY_DOORS else response


def upstream_pool():
    """The worker's pooled upstream connections for the configured network policy."""
    return shared_pool(current_settings().proxy_deny_private)


HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z"  # \Z: "$" would let a final newline by
HEADER_VALUE = r"^[^\r\n\x00]*\Z"


class EnvelopeSchema(ma.Schema):
    url = ma.fields.String(required=True, metadata={"description": "Relative to apiBaseUri"})
    method = ma.fields.String(load_default="GET", validate=ma.validate.OneOf(
        ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")))
    params = ma.fields.Dict(keys=ma.fields.String(), load_default=None, allow_none=True)
    data = ma.fields.Raw(load_default=None, allow_none=True, metadata={
        "description": "JSON body (object/array) or text"})
    headers = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.Regexp(
                                 HEADER_NAME, error="not a header name (RFC 9110 token)")),
                             values=ma.fields.String(validate=ma.validate.Regexp(
                                 HEADER_VALUE, error="a header value is one line of text")),
                             load_default=None, allow_none=True)
    envelope = ma.fields.Boolean(load_default=False, metadata={
        "description": "Answer {status, headers, data, error} instead of the upstream's answer"})
    retries = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=5))

    @ma.pre_load
    def _upper_method(self, data, **_):
        if isinstance(data, dict) and isinstance(data.get("method"), str):
            data = {**data, "method": data["method"].upper()}
        return data


class EnvelopeAnswerSchema(ma.Schema):
    status = ma.fields.Integer()
    headers = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    data = ma.fields.Raw(allow_none=True)
    encoding = ma.fields.String(metadata={"description": "base64 when data is binary"})
    error = ma.fields.String(allow_none=True)


class ProxyRequestSchema(HalSchema):
    id = ma.fields.String()
    username = ma.fields.String()
    method = ma.fields.String()
    path = ma.fields.String(metadata={"description": "Upstream path; query names only"})
    status = ma.fields.Integer(allow_none=True)
    error = ma.fields.String(allow_none=True)
    duration_ms = ma.fields.Integer(data_key="durationMs")
    bytes_sent = ma.fields.Integer(data_key="bytesSent")
    bytes_received = ma.fields.Integer(data_key="bytesReceived")
    created_at = ma.fields.DateTime(data_key="createdAt")

    def hal_links(self, row):
        return {"self": {"href": href("proxy.LoggedRequest", integration_id=row.integration_id,
                                      request_id=row.id)},
                "inf:integration": {"href": href("integrations.Integration",
                                                 integration_id=row.integration_id)}}


ProxyRequestPageSchema = page_schema(ProxyRequestSchema, "inf:proxy-request", "ProxyRequestPage")


def _find(integration_id: str) -> integrations.Found:
    return integrations.find(db_session(), current_user(), integration_id)


def _run(found: integrations.Found, call: proxy.ProxyCall):
    log = request_log_buffer()
    answer, prepared = calls.forward(db_session(), current_user(), found, call, log)
    return answer, prepared, log


def request_log_buffer() -> request_log.RequestLogBuffer:
    return current_app.extensions["integration_hub.request_log"]


def _envelope(answer, record, log, limit: int) -> dict:
    body = b""
    try:
        for chunk in answer.stream(FIRST_CHUNK, decode_content=True):
            body += chunk
            if len(body) > limit:
                raise proxy.RequestTooLarge("the upstream's answer is too large for an envelope")
    finally:
        answer.release_conn()
        record.bytes_received = len(body)
        log.add(record, elapsed_ms(record))
    headers = dict(response_headers(answer.headers.items()))
    headers.pop("Content-Encoding", None)
    result = {"status": answer.status, "headers": headers, "data": None,
              "error": None if answer.status < 400 else f"upstream answered {answer.status}"}
    content_type = answer.headers.get("Content-Type", "")
    if not body:
        return result
    if "json" in content_type:
        try:
            result["data"] = json_body.loads(body)
            return result
        except ValueError:
            pass
    try:
        result["data"] = body.decode("utf-8")
    except UnicodeDecodeError:
        result["data"] = base64.b64encode(body).decode("ascii")
        result["encoding"] = "base64"
    return result


@blp.route("/integrations/<integration_id>/request")
@api_token_only
@token_scope("proxy")
class Envelope(MethodView):
    @blp.arguments(EnvelopeSchema)
    @blp.response(200, EnvelopeAnswerSchema, content_type="application/json",
                  description="The upstream's answer as it is, or the envelope")
    @blp.problems(400, 401, 403, 404, 409, 413, 415, 502, 504)
    @blp.doc(**TOKENS_ONLY)
    def post(self, call, integration_id):
        """Call the integration (i5-compatible body: url, method, params, data, headers)"""
        data, headers = call["data"], cleaned_caller_headers(call["headers"] or {})
        body = None
        if isinstance(data, (dict, list)):
            body = json.dumps(data).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        elif data is not None:
            body = str(data).encode("utf-8")
        answer, prepared, log = _run(_find(integration_id), proxy.ProxyCall(
            method=call["method"], target=call["url"], query=call["params"], headers=headers,
            body=body, content_length=len(body) if body else None, retries=call["retries"]))
        if call["envelope"]:
            return _envelope(answer, prepared.record, log,
                             current_settings().proxy_max_body)
        return transparent(answer, prepared.record, log, call["method"])


@blp.route("/integrations/<integration_id>/request/<path:target>", methods=list(METHODS))
@api_token_only
@token_scope("proxy")
class Raw(MethodView):
    @blp.response(200, content_type="*/*", description="The upstream's answer, streamed")
    @blp.problems(400, 401, 403, 404, 408, 409, 413, 501, 502, 504)
    @blp.doc(**TOKENS_ONLY)
    def get(self, integration_id, target):
        """Call the integration: method, path, query and body are passed on, streamed"""
        return self._call(integration_id)

    post = put = patch = delete = head = get

    def _call(self, integration_id):
        found = _find(integration_id)  # once: also gives the forwardHeaders setting
        body = RequestBody.of(request.environ)  # framed upstream as the caller framed it
        body.require_plain()
        headers = forwardable_request_headers(
            request.headers.items(), (found.integration.data or {}).get("forwardHeaders") or ())
        answer, prepared, log = _run(found, proxy.ProxyCall(
            method=request.method,
            target=raw_target(request.environ, request.view_args.get("target", "")),
            query=request.query_string.decode("latin-1") or None, headers=headers,
            body=body.pieces(FIRST_CHUNK) if body.present else None, content_length=body.length))
        hot_path.remember(request.environ, authentication(), integration_id, prepared.plan)
        return transparent(answer, prepared.record, log, request.method)


@blp.route("/integrations/<integration_id>/requests")
class Requests(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ProxyRequestPageSchema)
    @blp.problems(401, 403, 404)
    def get(self, args, integration_id):
        """The latest proxied calls (owner or administrator); no headers or bodies"""
        integration, items, total = request_log.latest(
            db_session(), current_user(), integration_id, request_log_buffer(), args["start"],
            args["limit"])
        return hal_page("proxy.Requests", "inf:proxy-request", items, args["start"],
                        args["limit"], total, integration_id=integration.id)


@blp.route("/integrations/<integration_id>/requests/<request_id>")
class LoggedRequest(MethodView):
    @blp.response(200, ProxyRequestSchema)
    @blp.problems(401, 403, 404)
    def get(self, integration_id, request_id):
        """One proxied call of the request log (owner or administrator)"""
        return request_log.logged(db_session(), current_user(), integration_id, request_id)
