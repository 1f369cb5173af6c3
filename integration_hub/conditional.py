"""Conditional requests: ETags on every GET, ``If-None-Match`` -> 304, ``If-Match`` -> 412.

The ETag is a digest of the exact JSON bytes a GET answers with, so a client
can send it back in ``If-Match`` and the hub compares it with the digest of
the representation it would serve now.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, current_app, request

from integration_hub import errors

_CACHEABLE_TYPES = ("application/hal+json", "application/json")


def etag_for(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:40]


def add_etag(response: Response) -> Response:
    """after_request hook: tag JSON answers to GET/HEAD and honour If-None-Match."""
    if (request.method in ("GET", "HEAD") and response.status_code == 200
            and response.mimetype in _CACHEABLE_TYPES and not response.is_streamed
            and "ETag" not in response.headers):
        response.set_etag(etag_for(response.get_data()))
        response.make_conditional(request)
    return response


def current_etag(document: Any) -> str:
    """The ETag a GET of ``document`` (already dumped) would carry."""
    return etag_for(current_app.json.response(document).get_data())


def check_if_match(document: Any) -> None:
    """Refuse a change with 412 when ``If-Match`` names another version."""
    if not request.if_match:
        return
    if request.if_match.star_tag:
        return
    if not request.if_match.contains(current_etag(document)):
        raise errors.PreconditionFailed(
            "the resource changed since you read it; GET it again and retry")
