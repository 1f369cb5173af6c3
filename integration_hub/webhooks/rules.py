"""The pure rules of webhooks: event names, signatures, retry timing, targets and
payload links. No database, no network."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import socket
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from integration_hub.outbound.policy import address_denied

EVENT_TYPES = (
    "integration.created", "integration.updated", "integration.deleted",
    "share.created", "share.updated", "share.deleted",
    "connection.created", "connection.refreshed", "connection.reauth_required",
    "connection.recovered", "connection.deleted",
    "sync.completed", "sync.failed",
    "record.created", "record.updated", "record.deleted",
)
# The events a webhook's integration and model narrow (webhooks/record_events.py).
RECORD_EVENTS = ("record.created", "record.updated", "record.deleted")
ALL_EVENTS = "*"
PING = "ping"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_URL_LENGTH = 2000
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$")  # what inet_aton also reads: 127.1, 0x7f000001


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact body bytes with the webhook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def subscribed(events: Iterable[str], event_type: str) -> bool:
    events = list(events)
    return event_type in events or ALL_EVENTS in events


def unknown_events(events: Iterable[str]) -> list[str]:
    """Names that are neither an event type nor ``*``, in the order given."""
    return [e for e in events if e != ALL_EVENTS and e not in EVENT_TYPES]


def retry_delay(failed_attempts: int, base_seconds: int) -> timedelta:
    """Doubling waits: base, 2 x base, 4 x base ... after the 1st, 2nd, 3rd failure.
    With the defaults (base 2 min, 6 attempts) the last attempt is ~62 min after the first."""
    return timedelta(seconds=base_seconds * 2 ** max(0, failed_attempts - 1))


def failing_too_long(failing_since: datetime | None, now: datetime, limit: timedelta) -> bool:
    return failing_since is not None and now - failing_since >= limit


def target_problem(url: str, deny_private: bool) -> str | None:
    """Why a webhook may not send to ``url``, or None. Host names are checked again on
    the connected address at every delivery (they may resolve differently later)."""
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if any(unicodedata.category(char)[0] in "CZ" for char in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "must be an http or https URL"
    if not parts.hostname:
        return "must name a host"
    if "@" in parts.netloc:
        return "must not carry credentials; use the webhook's secret to authenticate deliveries"
    if parts.fragment or url.endswith("#"):
        return "must not have a fragment"
    if port == 0:
        return "has an invalid port"
    if deny_private and _private_host(parts.hostname):
        return "points at a private, loopback or link-local address (HUB_PROXY_DENY_PRIVATE is on)"
    return None


def _private_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        if not _NUMERIC_HOST.match(host):
            return False
        try:  # the shorthand forms resolvers accept (127.1, 2130706433, 0x7f000001)
            host = socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return False
    return address_denied(host)


def absolute_links(document: Any, base_url: str) -> Any:
    """A copy of a HAL document whose link hrefs (under ``_links``, also of ``_embedded``
    resources) start with ``base_url`` when they are absolute paths: receivers are not on
    the hub. The resource's own data is left as it is, even where it has an ``href``."""
    base = base_url.rstrip("/")
    if isinstance(document, list):
        return [absolute_links(item, base) for item in document]
    if not isinstance(document, dict):
        return document
    copied = dict(document)
    if isinstance(document.get("_links"), dict):
        copied["_links"] = {rel: _absolute(link, base) for rel, link in document["_links"].items()}
    if isinstance(document.get("_embedded"), dict):
        copied["_embedded"] = {rel: absolute_links(item, base)
                               for rel, item in document["_embedded"].items()}
    return copied


def _absolute(link: Any, base: str) -> Any:
    if isinstance(link, list):  # e.g. curies
        return [_absolute(item, base) for item in link]
    if not isinstance(link, dict):
        return link
    href = link.get("href")
    if isinstance(href, str) and href.startswith("/") and not href.startswith("//"):
        return {**link, "href": base + href}
    return dict(link)
