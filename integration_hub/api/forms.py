"""HAL-FORMS answers: ``Accept: application/prs.hal-forms+json`` adds ``_templates``.

A schema offers templates with ``hal_templates(obj)`` (collection pages get theirs
from ``hal_page(..., templates=...)``); they are built only when asked for, and
only for what the caller may do. The templates join the HAL document at its root
(HAL-FORMS has no templates inside ``_embedded``).
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

from integration_hub.edge.conditional import etag_for, representation_etag
from integration_hub.hal.documents import HAL_JSON
from integration_hub.hal.forms import HAL_FORMS


def wants_hal_forms() -> bool:
    """The caller prefers HAL-FORMS to plain HAL (``*/*`` and ties get plain HAL)."""
    return request.accept_mimetypes.best_match([HAL_JSON, HAL_FORMS]) == HAL_FORMS


def add_templates(response: Response, schema: Any, answer: Any) -> None:
    """Turn a HAL answer into HAL-FORMS: ``_templates`` from ``schema.hal_templates(answer)``.

    The ETag of a HAL-FORMS answer is the plain answer's ETag with the templates'
    digest appended: If-None-Match compares the whole tag (the templates can change
    without the resource changing), If-Match only the resource's part.
    """
    builder = getattr(schema, "hal_templates", None)
    templates = builder(answer) if builder is not None and answer is not None else {}
    plain_tag = etag_for(response.get_data())
    document = response.get_json()
    if templates:
        document["_templates"] = templates
    response.set_data(current_app.json.response(document).get_data())
    response.mimetype = HAL_FORMS
    if request.method in ("GET", "HEAD") and response.status_code == 200:
        response.set_etag(representation_etag(
            plain_tag, etag_for(current_app.json.response(templates).get_data())))
