"""Conditional requests: ETags on every GET, ``If-None-Match`` -> 304, ``If-Match`` -> 412.

The ETag is a digest of the exact JSON bytes a GET answers with, so a client
can send it back in ``If-Match`` and the hub compares it with the digest of
the representation it would serve now. A HAL-FORMS answer's ETag is that digest
followed by the digest of its templates (see ``representation_etag``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, request

from integration_hub import errors

_CACHEABLE_TYPES = ("application/hal+json", "application/prs.hal-forms+json",
                    "application/json")
_PART = "-"  # joins a resource's ETag and the digest of a representation's extras


def etag_for(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:40]


def representation_etag(resource_tag: str, extras_digest: str) -> str:
    """The ETag of a richer representation (HAL-FORMS) of the resource tagged
    ``resource_tag``: different from the plain one, and still matched by If-Match."""
    return f"{resource_tag}{_PART}{extras_digest[:16]}"


def add_etag(response: Response) -> Response:
    """after_request hook: tag JSON answers to GET/HEAD and honour If-None-Match."""
    if (request.method in ("GET", "HEAD") and response.status_code == 200
            and response.mimetype in _CACHEABLE_TYPES and not response.is_streamed):
        if "ETag" not in response.headers:
            response.set_etag(etag_for(response.get_data()))
        response.make_conditional(request)
    return response


def current_etag(document: Any) -> str:
    """The ETag a GET of ``document`` (already dumped) would carry."""
    return etag_for(current_app.json.response(document).get_data())


def if_match(represent: Callable[[Any], Any]) -> Callable[[Any], None]:
    """The ``If-Match`` check a use case runs inside its transaction, on the object it
    loaded, as ``represent`` (the resource's schema) shows it: 412 if it changed since."""
    return lambda subject: check_if_match(represent(subject))


def check_if_match(document: Any) -> None:
    """Refuse a change with 412 when ``If-Match`` names another version."""
    if not request.if_match:
        return
    if request.if_match.star_tag:
        return
    current = current_etag(document)
    if not any(tag == current or tag.startswith(current + _PART)
               for tag in request.if_match.as_set()):
        raise errors.PreconditionFailed(
            "the resource changed since you read it; GET it again and retry")
