"""Pure rules for an integration's configuration: names, slugs, URLs, headers.

No database and no Flask: each function takes values and returns a verdict,
so the rules are tested with plain tables.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from integration_hub.outbound.upstream_http import HOP_BY_HOP

AUTH_TYPES = ("oauth2", "apikey", "basic", "bearer", "none")
MODES = ("per-user", "shared")
API_KEY_LOCATIONS = ("header", "query")
SLUG_MAX = 120
# Paths under /api/integrations/ that are not integrations.
RESERVED_SLUGS = frozenset({"provision"})

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,118}[a-z0-9])?$")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field-name (token)
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
_HOSTNAME = re.compile(r"[A-Za-z0-9._~-]+|[0-9A-Fa-f:.]+")  # names, IPv4, IPv6 (unbracketed)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Connection-level headers (RFC 9110 §7.6.1): never configured, forwarded or returned.
ALWAYS_FORBIDDEN = HOP_BY_HOP | {"host", "content-length"}


def normalise_auth_type(value: str) -> str:
    """``apiKey``, ``OAuth2`` ... -> the lower-case form used everywhere."""
    return value.strip().lower()


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except (ValueError, AttributeError, TypeError):
        return False


def slugify(name: str) -> str:
    """A URL-safe slug from a display name; never empty, never a UUID."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:SLUG_MAX].strip("-")
    if not slug:
        return "integration"
    return f"{slug}-x" if is_uuid(slug) else slug


def with_suffix(slug: str, number: int) -> str:
    """``name``, ``name-2``, ``name-3``...: the n-th candidate for a taken slug."""
    if number < 2:
        return slug
    suffix = f"-{number}"
    return slug[:SLUG_MAX - len(suffix)].rstrip("-") + suffix


def slug_problem(slug: str) -> str | None:
    if not _SLUG.match(slug):
        return "use lower-case letters, digits and '-' (max 120, not starting or ending with '-')"
    if is_uuid(slug):
        return "must not look like an id (UUID)"
    if slug in RESERVED_SLUGS:
        return f"{slug!r} is reserved"
    return None


def url_problem(value: str, *, placeholders: bool = False) -> str | None:
    """None when ``value`` is an absolute http(s) URL with a host."""
    candidate = value
    if placeholders:
        # A leading ${connection.instance_url} stands for a whole origin.
        candidate = _PLACEHOLDER.sub("https://placeholder.invalid", candidate, count=1) \
            if candidate.startswith("${") else candidate
        candidate = _PLACEHOLDER.sub("x", candidate)
    if _CONTROL.search(value) or " " in candidate:
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(candidate)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http(s) URL"
    if not _HOSTNAME.fullmatch(parts.hostname):
        return "has an invalid host name"
    if parts.username is not None or parts.password is not None:
        return "must not carry user information; use the integration's credentials"
    return None


def credential_header(auth_type: str, api_key_location: str, api_key_name: str) -> str | None:
    """The header the hub itself sets for this auth type (callers may not set it)."""
    if auth_type in ("oauth2", "bearer", "basic"):
        return "authorization"
    if auth_type == "apikey" and api_key_location == "header":
        return api_key_name.lower()
    return None


def header_problems(headers: Mapping[str, Any], auth_header: str | None) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for name, value in headers.items():
        messages = []
        if not _TOKEN.match(name):
            messages.append("is not a valid header name (RFC 9110 token)")
        elif name.lower() in ALWAYS_FORBIDDEN:
            messages.append("is managed by the hub and cannot be configured")
        elif auth_header and name.lower() == auth_header:
            messages.append("carries the integration's credentials and cannot be configured")
        if not isinstance(value, str):
            messages.append("value must be a string (a template)")
        elif _CONTROL.search(value):
            messages.append("value must not contain control characters (CR, LF, NUL ...)")
        if messages:
            problems[name] = messages
    return problems


def configuration_errors(state: Mapping[str, Any]) -> dict[str, list[str]]:
    """Cross-field rules on the complete configuration (after defaults and changes).

    ``state`` uses the API's field names.
    """
    found: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        found.setdefault(field, []).append(message)

    auth_type = state.get("authType") or "oauth2"
    if auth_type == "oauth2":
        for field in ("authUri", "tokenUri", "clientId"):
            if not state.get(field):
                add(field, "is required for oauth2 integrations")
    if auth_type == "apikey" and state.get("apiKeyLocation") == "query":
        if not _TOKEN.match(state.get("apiKeyName") or ""):
            add("apiKeyName", "is not a valid query parameter name")
    if auth_type == "apikey" and state.get("apiKeyLocation", "header") == "header":
        name = state.get("apiKeyName") or ""
        if not _TOKEN.match(name) or name.lower() in ALWAYS_FORBIDDEN:
            add("apiKeyName", "is not a header name the hub can send")
    for field in ("authUri", "tokenUri", "revocationUri", "userInfoUri"):
        if state.get(field) and (problem := url_problem(state[field])):
            add(field, problem)
    if state.get("apiBaseUri") and (problem := url_problem(state["apiBaseUri"], placeholders=True)):
        add("apiBaseUri", problem)
    auth_header = credential_header(auth_type, state.get("apiKeyLocation", "header"),
                                    state.get("apiKeyName") or "X-API-Key")
    for name, messages in header_problems(state.get("headers") or {}, auth_header).items():
        found.setdefault("headers", []).extend(f"{name}: {m}" for m in messages)
    return found
