"""Guarded upstream URLs for the request proxy (docs/decisions.md, "URL guard").

Threat model: the proxy's caller chooses the target (and the upstream chooses
redirect Locations) while the hub adds the integration's credentials. A crafted
target must never move the request - and those credentials - to another scheme,
host or port, nor outside the path prefix of ``apiBaseUri``: not directly
(absolute or scheme-relative URLs, user-info tricks), not through parser
disagreements (backslashes, control characters, spaces) and not through the
upstream's own normalisation (``..``/``.`` segments, also percent-encoded once
or several times, with a ``;param``, padded with whitespace/NUL, or in
full-width Unicode forms that NFKC folds to ASCII). Anything dubious is refused
with 400 ``url_outside_base`` before a byte is sent; ordinary data (``@``, ``:``,
percent-escapes inside a segment) passes unchanged.

Decisions:
- A leading ``/`` in a target means "the base", never the host root.
- ``name:rest`` is an absolute URL only when ``name`` is a valid scheme and
  ``rest`` starts with ``//`` or ``name`` is one of ``KNOWN_SCHEMES``;
  otherwise it is a path (``items:list`` -> ``<base>/items:list``).
- Absolute targets are accepted when they are http(s) without user info and
  either stay under the base or point at an allowed host; they are sent as
  given (fragment dropped, extra query appended).
- An allowed-host entry without a port allows only the scheme's default port.
- ASCII is kept byte for byte; non-ASCII characters are sent UTF-8
  percent-encoded. Percent-encoded control characters are data, not refused.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import SplitResult, quote, unquote, urlencode, urljoin, urlsplit

from integration_hub import errors

MAX_TARGET_LENGTH = 8192
MAX_DECODE_ROUNDS = 5
DEFAULT_PORTS = {"http": 80, "https": 443}
KNOWN_SCHEMES = frozenset({"http", "https", "ftp", "file", "javascript", "data", "mailto"})

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# Space, C0 controls, DEL, C1 controls and lone surrogates (which cannot be encoded).
_BAD_CHARS = re.compile("[\x00-\x20\x7f-\x9f\ud800-\udfff]")
_PRINTABLE_ASCII = "".join(map(chr, range(0x21, 0x7F)))
_PADDING = " \t\r\n\x0b\x0c\x00"

Query = str | Mapping[str, Any] | Sequence[tuple[str, Any]] | None


class UrlOutsideBase(errors.BadRequest):
    code, title = "url_outside_base", "The URL leaves the integration's base URL"


# What a caller sends is kept only when short: a caller making every target long and
# different must not grow a process by more than about REMEMBERED * REMEMBERED_LENGTH * 3.
REMEMBERED, REMEMBERED_LENGTH = 1024, 512


def upstream_url(base: str, target: str, query: Query, allowed_hosts: tuple[str, ...]) -> str:
    """``build_upstream_url``, remembered for a short target and a query given as text: a
    pure function, asked on every proxied call, mostly with the same few arguments (a
    refusal is not kept)."""
    if (query is None or isinstance(query, str)) \
            and len(target) + len(query or "") <= REMEMBERED_LENGTH:
        return _remembered_url(base, target, query, allowed_hosts)
    return build_upstream_url(base, target, query=query, allowed_hosts=allowed_hosts)


@functools.lru_cache(maxsize=REMEMBERED)
def _remembered_url(base: str, target: str, query: str | None,
                    allowed_hosts: tuple[str, ...]) -> str:
    return build_upstream_url(base, target, query=query, allowed_hosts=allowed_hosts)


def build_upstream_url(base: str, target: str, *, query: Query = None,
                       allowed_hosts: Iterable[str] = ()) -> str:
    """``target`` joined under ``base`` (or an allowed absolute URL), with ``query`` appended."""
    base_parts = _base_parts(base)
    allowed = list(allowed_hosts)
    _check_text(target, "target")
    target = _encode(target.split("#", 1)[0])
    extra = _query_text(query)
    if _looks_absolute(target):
        parts = _split(target, "target")
        if "@" in parts.netloc:
            raise UrlOutsideBase("user info is not allowed in a target URL")
        _check_destination(parts, base_parts, allowed, "target")
        head = target.partition("?")[0]
        return _with_query(head, parts.query, extra)

    path, _, target_query = target.partition("?")
    if path.startswith(("//", "/\\", "\\")):
        raise UrlOutsideBase("scheme-relative targets (//host) are not allowed")
    _check_path(path, "target", leading=True)
    if path:
        full_path = _prefix(base_parts.path) + path.removeprefix("/")
    else:
        full_path = base_parts.path or "/"
    url = _with_query(f"{base_parts.scheme}://{base_parts.netloc}{full_path}",
                      base_parts.query, target_query, extra)
    # Defensive: whatever the joining did, the result must still be under the base.
    parts = _split(url, "URL")
    if not _under_base(parts, base_parts):
        raise UrlOutsideBase("the URL leaves the integration's base URL")
    _check_path(parts.path, "URL")
    return url


def redirect_target(current_url: str, location: str, base: str,
                    allowed_hosts: Iterable[str] = ()) -> str:
    """The absolute URL a redirect ``Location`` points to, if it stays under ``base``
    (same scheme, host, port and prefix) or goes to an allowed host."""
    base_parts = _base_parts(base)
    _check_text(location, "redirect Location")
    location = _encode(location.split("#", 1)[0])
    _check_path(_split(location, "redirect Location").path, "redirect Location")
    resolved = urljoin(current_url, location).split("#", 1)[0]
    _check_text(resolved, "redirect target")
    parts = _split(resolved, "redirect target")
    if "@" in parts.netloc and parts.netloc != base_parts.netloc:
        raise UrlOutsideBase("user info is not allowed in a redirect target")
    _check_destination(parts, base_parts, list(allowed_hosts), "redirect target")
    return resolved


def _check_text(text: str, what: str) -> None:
    if len(text) > MAX_TARGET_LENGTH:
        raise UrlOutsideBase(f"the {what} is longer than {MAX_TARGET_LENGTH} characters")
    if _BAD_CHARS.search(text):
        raise UrlOutsideBase(f"the {what} contains a space or a control character")


def _check_path(path: str, what: str, *, leading: bool = False) -> None:
    """Refuse backslashes and ``.``/``..`` segments in the path and in every decoded form."""
    current = path
    for _ in range(MAX_DECODE_ROUNDS + 1):
        for form in (current, unicodedata.normalize("NFKC", current)):
            if "\\" in form:
                raise UrlOutsideBase(f"the {what} contains a backslash (maybe encoded)")
            if leading and form.startswith("//"):
                raise UrlOutsideBase(f"the {what} decodes to a scheme-relative URL")
            if any(_is_dot_segment(segment) for segment in form.split("/")):
                raise UrlOutsideBase(f"the {what} contains a '.' or '..' segment (maybe encoded)")
        decoded = unquote(current)
        if decoded == current:
            return
        current = decoded
    raise UrlOutsideBase(f"the {what} is percent-encoded too many times")


def _is_dot_segment(segment: str) -> bool:
    # "..;x" is ".." for Tomcat-style servers; ".. " and "..\0" for some file systems.
    return segment.split(";", 1)[0].strip(_PADDING) in (".", "..")


def _check_destination(parts: SplitResult, base_parts: SplitResult, allowed: list[str],
                       what: str) -> None:
    if parts.scheme not in DEFAULT_PORTS:
        raise UrlOutsideBase(f"the {what} is not an http(s) URL")
    _check_path(parts.path, what)
    if not (_under_base(parts, base_parts) or _host_matches(parts, allowed)):
        raise UrlOutsideBase(f"the {what} is neither under the base URL nor on an allowed host")


@functools.lru_cache(maxsize=1024)  # a pure function of the text, asked on every call
def _base_parts(base: str) -> SplitResult:
    if _BAD_CHARS.search(base) or "\\" in base:
        raise UrlOutsideBase("the base URL contains a space, control character or backslash")
    parts = _split(base, "base URL")
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise UrlOutsideBase("the base URL is not an absolute http(s) URL")
    _check_path(parts.path, "base URL")
    return parts


def _split(url: str, what: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        raise UrlOutsideBase(f"the {what} is not a valid URL") from None
    return parts


def _origin(parts: SplitResult) -> tuple[str, int | None]:
    return parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme)


def _prefix(base_path: str) -> str:
    return base_path if base_path.endswith("/") else base_path + "/"


def _under_base(parts: SplitResult, base_parts: SplitResult) -> bool:
    prefix = _prefix(base_parts.path)
    return (parts.scheme == base_parts.scheme and _origin(parts) == _origin(base_parts)
            and (parts.path.startswith(prefix) or parts.path == prefix.rstrip("/")))


def _host_matches(parts: SplitResult, allowed_hosts: Iterable[str]) -> bool:
    """Entries are ``host``, ``host:port`` or ``*.domain`` (subdomains only), any case."""
    host, port = _origin(parts)
    if not host or parts.scheme not in DEFAULT_PORTS:
        return False
    for entry in allowed_hosts:
        try:
            wanted = urlsplit("//" + str(entry).strip())
            name, wanted_port = wanted.hostname, wanted.port or DEFAULT_PORTS[parts.scheme]
        except ValueError:
            continue
        if not name or "@" in wanted.netloc or wanted.path or wanted_port != port:
            continue
        if name == host:
            return True
        if name.startswith("*.") and host.endswith(name[1:]) and len(host) > len(name) - 1:
            return True
    return False


def _looks_absolute(target: str) -> bool:
    match = _SCHEME.match(target)
    if match is None:
        return False
    return target[match.end():].startswith("//") or match.group(1).lower() in KNOWN_SCHEMES


def _encode(text: str) -> str:
    """Percent-encode non-ASCII characters (UTF-8); printable ASCII stays as it is."""
    return quote(text, safe=_PRINTABLE_ASCII)


def _query_text(query: Query) -> str:
    if query is None:
        return ""
    if isinstance(query, str):
        raw = query.removeprefix("?")
        if _BAD_CHARS.search(raw) or "#" in raw:
            raise UrlOutsideBase("the query contains a space, control character or '#'")
        return _encode(raw)
    items = query.items() if isinstance(query, Mapping) else query
    pairs: list[tuple[Any, Any]] = []
    for key, value in items:
        values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
        pairs += [(key, _param(item)) for item in values if item is not None]
    return urlencode(pairs, doseq=True)


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _with_query(url: str, *queries: str) -> str:
    query = "&".join(q for q in queries if q)
    return f"{url}?{query}" if query else url
