"""Pure helpers for HAL documents (draft-kelly-json-hal): links, curies and pages.

Nothing here touches Flask: callers pass in hrefs they built, so every rule is
easy to test with plain tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

HAL_JSON = "application/hal+json"
CURIE_PREFIX = "inf"

# RFC 6570 expressions: {var}, {+var}, {?a,b}, {/path*}, {var:3} ...
_TEMPLATE_EXPRESSION = re.compile(r"\{([+#./;?&]?)([A-Za-z0-9_%.]+(?::[1-9][0-9]{0,3}|\*)?"
                                  r"(?:,[A-Za-z0-9_%.]+(?::[1-9][0-9]{0,3}|\*)?)*)\}")


# RFC 3986 5.2.4: the segments resolvers remove ("a/./b" is "a/b", "a/../b" is "b"). WHATWG URL
# parsers (browsers, Node.js) remove "%2E", "%2E%2E", ".%2E" and "%2E." too.
DOT_SEGMENTS = (".", "..")


def path_segment(value: str) -> str:
    """``value`` as one path segment of an href, which no resolver can move or split.

    Every character outside RFC 3986's unreserved set (letters, digits, ``-._~``) is
    percent-encoded as UTF-8: ``/`` and ``%`` too, and ``?``, ``#``, ``;``, ``:``, ``@``
    (Werkzeug's own URL building leaves ``/``, ``:``, ``@`` and the sub-delimiters as they
    are). A value of dots only has them as ``%2E``, so RFC 3986 resolvers never take it
    for a dot-segment; other dots stay as they are (``v1.2``). Routing decodes the segment
    back to ``value``. Ids that are ``.`` or ``..`` are refused where records come in
    (``DOT_SEGMENTS``): WHATWG parsers decode ``%2E`` before removing dot-segments.
    See docs/security.md, "Links built from data".
    """
    encoded = quote(value, safe="")  # quote keeps exactly the unreserved characters
    if encoded and not encoded.strip("."):
        return "%2E" * len(encoded)
    return encoded


def is_uri_template(href: str) -> bool:
    """True when ``href`` holds at least one RFC 6570 expression."""
    return bool(_TEMPLATE_EXPRESSION.search(href))


def link(href: str, **attributes: Any) -> dict[str, Any]:
    """A link object; ``templated`` is set exactly when the href is a template."""
    result: dict[str, Any] = {"href": href}
    if is_uri_template(href):
        result["templated"] = True
    result.update({k: v for k, v in attributes.items() if v is not None})
    return result


def curies(rels_href_template: str) -> list[dict[str, Any]]:
    """The ``curies`` array naming ``inf`` after the relation documentation pages."""
    return [link(rels_href_template, name=CURIE_PREFIX)]


def resource(data: Mapping[str, Any], links: Mapping[str, Any],
             embedded: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A HAL resource: ``_links`` first, then the state, then ``_embedded``."""
    if "self" not in links:
        raise ValueError("a HAL resource needs a self link")
    document: dict[str, Any] = {"_links": dict(links)}
    document.update(data)
    if embedded:
        document["_embedded"] = dict(embedded)
    return document


def with_query(path: str, query: Mapping[str, Any]) -> str:
    """``path`` with ``query`` appended; ``None`` values are left out, order kept."""
    pairs = []
    for name, value in query.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            pairs.extend((name, _query_value(v)) for v in value if v is not None)
        else:
            pairs.append((name, _query_value(value)))
    return f"{path}?{urlencode(pairs)}" if pairs else path


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def page_links(path: str, query: Mapping[str, Any], start: int, limit: int,
               total: int) -> dict[str, dict[str, Any]]:
    """``self``, ``first``, ``prev``, ``next`` and ``last`` for an offset page.

    ``query`` holds the caller's filters (kept on every link); ``start`` and
    ``limit`` are set per link. ``prev`` appears when there is something before
    ``start``, ``next`` when something follows the page, ``first`` and ``last``
    always (``last`` of an empty collection is the first page).
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if start < 0:
        raise ValueError("start must not be negative")
    filters = {k: v for k, v in query.items() if k not in ("start", "limit")}

    def href(page_start: int) -> dict[str, Any]:
        return link(with_query(path, {**filters, "start": page_start, "limit": limit}))

    last_start = ((total - 1) // limit) * limit if total > 0 else 0
    links = {"self": href(start), "first": href(0)}
    if start > 0:
        links["prev"] = href(max(0, min(start - limit, last_start)))
    if start + limit < total:
        links["next"] = href(start + limit)
    links["last"] = href(last_start)
    return links


def page(path: str, query: Mapping[str, Any], rel: str, items: Sequence[Mapping[str, Any]],
         start: int, limit: int, total: int, extra_links: Mapping[str, Any] | None = None
         ) -> dict[str, Any]:
    """A HAL collection page: items under ``_embedded[rel]`` (always an array)."""
    links = page_links(path, query, start, limit, total)
    if extra_links:
        links.update(extra_links)
    return resource({"start": start, "count": len(items), "total": total}, links,
                    {rel: list(items)})
