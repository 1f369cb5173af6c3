"""Pieces every resource module uses: link building, paging arguments, HAL schemas."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import marshmallow as ma
from flask import has_request_context, request, url_for
from werkzeug.routing import MapAdapter

from integration_hub.api.dumping import CompiledList
from integration_hub.hal import documents as hal

_PLACEHOLDER = "__hub_template_{}__"
# Offsets past this are refused (the databases' integers end at 2**63; no list is this long).
MAX_OFFSET = 2**31 - 1


# Where hrefs are built while ``hrefs_from`` holds: a URL adapter its caller bound, instead
# of the request's (event payloads are built against a neutral base, webhooks/events.py).
_BOUND: ContextVar[MapAdapter | None] = ContextVar("integration_hub.hrefs_from", default=None)


@contextmanager
def hrefs_from(adapter: MapAdapter) -> Iterator[None]:
    """Build every href inside the block with ``adapter`` rather than the request's."""
    token = _BOUND.set(adapter)
    try:
        yield
    finally:
        _BOUND.reset(token)


def hrefs_from_request() -> bool:
    """Hrefs come from the current request (a cache of them may live in its environ)."""
    return _BOUND.get() is None and has_request_context()


def href(endpoint: str, **values: Any) -> str:
    """An absolute-path href honouring the proxy prefix (SCRIPT_NAME)."""
    adapter = _BOUND.get()
    return url_for(endpoint, **values) if adapter is None else adapter.build(endpoint, values)


def template_href(endpoint: str, **values: Any) -> str:
    """An RFC 6570 href: values written ``"{name}"`` become template variables.

    ``template_href("sharing.Share", integration_id=i, principal_id="{principalId}")``
    -> ``/api/integrations/<i>/shares/{principalId}``.
    """
    variables = {arg: value[1:-1] for arg, value in values.items()
                 if isinstance(value, str) and value.startswith("{") and value.endswith("}")}
    url = href(endpoint, **{**values, **{arg: _PLACEHOLDER.format(arg) for arg in variables}})
    for arg, name in variables.items():
        url = url.replace(_PLACEHOLDER.format(arg), "{" + name + "}")
    return url


def collection_query() -> dict[str, Any]:
    """The caller's query string, to carry filters over to paging links."""
    return {k: v for k, v in request.args.items(multi=False)}


class PageArgsSchema(ma.Schema):
    start = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=MAX_OFFSET),
                              metadata={"description": "Offset of the first item"})
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=500),
                              metadata={"description": "Page size (max 500)"})


class SearchPageArgsSchema(PageArgsSchema):
    q = ma.fields.String(metadata={"description": "Case-insensitive substring search"})


class LinkSchema(ma.Schema):
    href = ma.fields.String(required=True)
    templated = ma.fields.Boolean()
    name = ma.fields.String()
    title = ma.fields.String()


class HalSchema(ma.Schema):
    """A HAL resource: ``_links`` comes from the subclass's ``hal_links(obj)``; a subclass
    may offer HAL-FORMS templates with ``hal_templates(obj)`` (see ``api/forms.py``)."""

    links = ma.fields.Method("hal_links", data_key="_links", dump_only=True,
                             metadata={"description": "HAL links; always has self"})

    def hal_links(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    @ma.post_dump
    def _links_first(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """HAL readers look for ``_links`` first; keep it at the top."""
        if "_links" not in data:
            return data
        return {"_links": data.pop("_links"), **data}


class HalPageSchema(ma.Schema):
    links = ma.fields.Dict(attribute="_links", data_key="_links", dump_only=True,
                           keys=ma.fields.String(), values=ma.fields.Nested(LinkSchema))
    start = ma.fields.Integer(dump_only=True)
    count = ma.fields.Integer(dump_only=True)
    total = ma.fields.Integer(dump_only=True)

    def hal_templates(self, page: dict[str, Any]) -> dict[str, Any]:
        """The collection's HAL-FORMS templates, built only when asked for."""
        builder = page.get("templates")
        return builder() if builder is not None else {}


def page_schema(item_schema: type[ma.Schema], rel: str, name: str,
                compiled_items: bool = False) -> type[ma.Schema]:
    """A documented collection page with items under ``_embedded[rel]``.

    ``compiled_items``: dump the items with ``api/dumping.py`` (the same output, for pages
    whose items are many fields each)."""
    items = CompiledList if compiled_items else ma.fields.List
    embedded = ma.Schema.from_dict(
        {rel: items(ma.fields.Nested(item_schema), required=True)},
        name=f"{name}Embedded")
    return type(name, (HalPageSchema,), {
        "embedded": ma.fields.Nested(embedded, attribute="_embedded", data_key="_embedded",
                                     dump_only=True)})


def hal_page(endpoint: str, rel: str, items: list[Any], start: int, limit: int, total: int,
             templates: Callable[[], dict[str, Any]] | None = None,
             **values: Any) -> dict[str, Any]:
    """A page of ``endpoint``; ``templates`` builds its HAL-FORMS templates on demand."""
    page = hal.page(href(endpoint, **values), collection_query(), rel, items, start, limit, total)
    if templates is not None:
        page["templates"] = templates  # not a field of the page: only hal_templates reads it
    return page
