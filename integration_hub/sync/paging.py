"""Walking an upstream listing page by page: pure functions over one answer at a time.

``first_page`` says what to request first; ``next_page`` reads an answer (its JSON
document, its ``Link`` header, how many items it held) and says what to request next,
or None when the listing is complete. ``items_of`` and ``record_id`` take the items
out of a page. Nothing here sends a request: the sync service does that through the
proxy, so credentials, refresh, retries and the URL guard are the proxy's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from integration_hub.hal.documents import DOT_SEGMENTS
from integration_hub.sync.settings import SyncSettings

MAX_ID_LENGTH = 256
# An array index in a dotted path: ASCII digits (str.isdigit() also takes "²", which int() refuses).
_INDEX = re.compile(r"[0-9]+")


class PageInvalid(ValueError):
    """An answer the sync cannot use (the message says why, never what the page held)."""


@dataclass(frozen=True)
class PageRequest:
    target: str                        # path under apiBaseUri, or an absolute URL (link style)
    params: Mapping[str, str] = field(default_factory=dict)
    number: int = 1                    # 1 for the first request, 2 for the next, ...


def first_page(settings: SyncSettings) -> PageRequest:
    params = dict(settings.params)
    paging = settings.pagination
    if paging.style == "page":
        params[paging.page_param] = str(paging.first_page)
    if paging.size_param and paging.size:
        params[paging.size_param] = str(paging.size)
    return PageRequest(settings.path, params)


def next_page(settings: SyncSettings, current: PageRequest, document: Any,
              link_header: str | None, item_count: int, current_url: str = "") -> PageRequest | None:
    """The request after ``current`` (whose absolute URL was ``current_url``), or None
    when the listing is complete. A ``Link`` target is resolved against ``current_url``;
    whether it may be called is the proxy's URL guard's decision."""
    paging = settings.pagination
    following = current.number + 1
    match paging.style:
        case "cursor":
            cursor = value_at(document, paging.cursor_path)
            if cursor is None or cursor == "" or cursor is False:
                return None
            # bool is an int to Python, but ``true`` is no cursor: it would be sent as "True"
            if isinstance(cursor, bool) or not isinstance(cursor, (str, int)):
                raise PageInvalid(f"the cursor at {paging.cursor_path} is not a string or number")
            if str(cursor) == current.params.get(paging.cursor_param):
                raise PageInvalid("the upstream answered the same cursor twice")
            return PageRequest(current.target, {**current.params, paging.cursor_param: str(cursor)},
                               following)
        case "page":
            if item_count == 0 or (paging.size and item_count < paging.size):
                return None
            page = int(current.params.get(paging.page_param, paging.first_page)) + 1
            return PageRequest(current.target, {**current.params, paging.page_param: str(page)},
                               following)
        case "link":
            target = next_link(link_header)
            if target is None:
                return None
            target = urljoin(current_url, target) if current_url else target
            if target in (current.target, current_url):
                raise PageInvalid("the Link header points at the same page again")
            return PageRequest(target, {}, following)
    return None


def value_at(document: Any, path: str | None) -> Any:
    """The value at a dotted path (``data.items``; digits index arrays); None when absent."""
    if not path:
        return document
    value = document
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and _INDEX.fullmatch(part) and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def items_of(document: Any, items_path: str | None) -> list[Mapping[str, Any]]:
    items = value_at(document, items_path)
    where = f"at {items_path}" if items_path else "as the answer"
    if not isinstance(items, list):
        raise PageInvalid(f"expected an array of items {where}")
    for position, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise PageInvalid(f"item {position} {where} is not an object")
    return items


def record_id(item: Mapping[str, Any], id_field: str) -> str:
    value = value_at(item, id_field)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise PageInvalid(f"an item has no usable id at {id_field} (a string or integer)")
    text = str(value)
    if len(text) > MAX_ID_LENGTH:
        raise PageInvalid(f"an item id is longer than {MAX_ID_LENGTH} characters")
    if text in DOT_SEGMENTS:  # no link could name the record (hal.path_segment)
        raise PageInvalid(f"an item id is {text!r}, which no link can name")
    return text


# RFC 8288: <uri-reference>; param; param, <...>; ...  (commas may appear inside <...> or quotes)
_LINK_VALUE = re.compile(r'<([^>]*)>((?:\s*;\s*[^;,"=\s]+(?:\s*=\s*(?:"[^"]*"|[^;,]*))?)*)')
_PARAM = re.compile(r'\s*;\s*([^;=\s]+)\s*(?:=\s*("([^"]*)"|[^;,]*))?')


def next_link(header: str | None) -> str | None:
    """The target of the ``rel="next"`` link in a ``Link`` header, if there is one."""
    if not header:
        return None
    for match in _LINK_VALUE.finditer(header):
        for param in _PARAM.finditer(match.group(2)):
            if param.group(1).lower() != "rel":
                continue
            value = param.group(3) if param.group(3) is not None else (param.group(2) or "")
            if "next" in value.lower().split():
                return match.group(1).strip() or None
            break  # RFC 8288 3.3: a second rel in the same link-value is ignored
    return None
