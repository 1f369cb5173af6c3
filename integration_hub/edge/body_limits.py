"""A request body limit on every endpoint.

Endpoints that take large bodies set their own limit and answer with their own code
(the raw proxy: ``HUB_PROXY_MAX_BODY``, 413 ``request_too_large``; imports:
``import_too_large``; icons: ``icon_too_large``). Every other endpoint takes at most
``HUB_MAX_JSON_BODY`` bytes: a declared length above it is refused before anything is
read; a body without a length (chunked) is read up to one byte past the limit and
refused when it is longer (Werkzeug alone would cut it off silently, and the caller
would be told the truncated body is malformed).
"""

from __future__ import annotations

import io

from flask import Flask, request

from integration_hub import errors
from integration_hub.config import current_settings

OWN_LIMITS = frozenset({"proxy.Raw", "records.Import", "icons.Icon"})


def init_app(app: Flask) -> None:
    @app.before_request
    def _limit_the_body() -> None:
        if request.endpoint in OWN_LIMITS:
            return
        limit = current_settings().max_json_body
        too_large = errors.PayloadTooLarge(f"request bodies here are limited to {limit} bytes")
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        if request.environ.get("CONTENT_LENGTH") and not chunked:
            if (request.content_length or 0) > limit:
                raise too_large
        elif request.environ.get("wsgi.input_terminated"):
            _buffer_up_to(limit, too_large)
        request.max_content_length = limit


def _buffer_up_to(limit: int, too_large: errors.HubError) -> None:
    """Read a body of unknown length (small by now) and hand it on with its length."""
    environ = request.environ
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise too_large
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["wsgi.input_terminated"] = False
