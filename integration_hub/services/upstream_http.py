"""The proxy's transport: pooled upstream connections, the outbound network
policy checked on the address actually connected to, and the pure rules for
which headers cross the hub in either direction."""

from __future__ import annotations

import email.utils
import ipaddress
import random
import socket
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from integration_hub import errors
from integration_hub.services.integration_rules import HOP_BY_HOP

# Caller headers the raw proxy forwards (plus If-* and data.forwardHeaders).
FORWARDED_REQUEST_HEADERS = frozenset({"accept", "accept-language", "content-type", "range",
                                       "cache-control"})
NEVER_FORWARDED = HOP_BY_HOP | {"authorization", "cookie", "host", "content-length", "forwarded",
                                "x-real-ip", "proxy-authorization"}
DROPPED_RESPONSE_HEADERS = HOP_BY_HOP | {"set-cookie", "set-cookie2", "strict-transport-security"}
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class UpstreamAddressDenied(errors.Forbidden):
    code, title = "upstream_address_denied", "The upstream resolves to a private address"


class UpstreamUnreachable(errors.HubError):
    status, code, title = 502, "upstream_unreachable", "The upstream could not be reached"


class UpstreamTimeout(errors.HubError):
    status, code, title = 504, "upstream_timeout", "The upstream did not answer in time"


class DeniedAddress(urllib3.exceptions.NewConnectionError):
    """Raised inside urllib3 when the connected peer is not allowed."""


def address_denied(address: str) -> bool:
    """Loopback, private, link-local, unspecified, multicast or reserved, also as IPv4-mapped IPv6."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_unspecified
            or ip.is_multicast or ip.is_reserved)


class _GuardedConnectionMixin:
    deny_private = False

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        if self.deny_private:
            peer = sock.getpeername()[0]
            if address_denied(peer):
                sock.close()
                raise DeniedAddress(self, f"{self.host} resolves to a denied address")
        return sock


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    deny_private = True


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    deny_private = True


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


def pool_manager(deny_private: bool, maxsize: int = 20) -> urllib3.PoolManager:
    """One pool per upstream host, reused across requests (keep-alive)."""
    manager = urllib3.PoolManager(num_pools=100, maxsize=maxsize, block=False, retries=False)
    if deny_private:
        manager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}
    return manager


_POOLS: dict[bool, urllib3.PoolManager] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(deny_private: bool) -> urllib3.PoolManager:
    """The process's pool manager for this network policy, created on first use."""
    with _POOLS_LOCK:
        if deny_private not in _POOLS:
            _POOLS[deny_private] = pool_manager(deny_private)
        return _POOLS[deny_private]


def transport_error(failure: Exception) -> errors.HubError:
    """The hub's answer for a failed upstream connection (urllib3 wraps the cause)."""
    reason = getattr(failure, "reason", None)
    failure = reason if isinstance(reason, Exception) else failure
    if isinstance(failure, DeniedAddress):
        return UpstreamAddressDenied("the upstream's address is private, loopback or "
                                     "link-local, and HUB_PROXY_DENY_PRIVATE is on")
    # NewConnectionError subclasses ConnectTimeoutError: a refusal is not a timeout.
    if (isinstance(failure, urllib3.exceptions.TimeoutError)
            and not isinstance(failure, urllib3.exceptions.NewConnectionError)):
        return UpstreamTimeout("the upstream did not answer in time")
    return UpstreamUnreachable("the upstream refused or dropped the connection")


def forwardable_request_headers(headers: Iterable[tuple[str, str]],
                                extra_allowed: Iterable[str] = ()) -> dict[str, str]:
    """The caller's headers the raw proxy may pass on (SPEC §6.2)."""
    allowed = FORWARDED_REQUEST_HEADERS | {h.lower() for h in extra_allowed}
    kept: dict[str, str] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered in NEVER_FORWARDED or lowered.startswith("x-forwarded-"):
            continue
        if lowered in allowed or lowered.startswith("if-"):
            kept[name] = value
    return kept


def cleaned_caller_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers named in an envelope call: everything but what only the hub may set."""
    return {name: str(value) for name, value in headers.items()
            if name.lower() not in NEVER_FORWARDED and not name.lower().startswith("x-forwarded-")}


def merge_headers(*layers: Mapping[str, str]) -> dict[str, str]:
    """Later layers win, case-insensitively (caller < integration < credentials)."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for name, value in layer.items():
            merged[name.lower()] = (name, value)
    return dict(merged.values())


def response_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Upstream headers the caller gets: no hop-by-hop (nor those named in Connection),
    no cookies, no HSTS, no CORS. Content-Encoding and -Length stay as sent (the body
    is passed on undecoded)."""
    pairs = list(headers)
    named = {token.strip().lower() for name, value in pairs if name.lower() == "connection"
             for token in value.split(",")}
    return [(name, value) for name, value in pairs
            if name.lower() not in DROPPED_RESPONSE_HEADERS and name.lower() not in named
            and not name.lower().startswith("access-control-")]


def latin1_safe(value: str) -> str:
    """Header values go out as UTF-8 bytes (http.client writes str as latin-1)."""
    try:
        value.encode("latin-1")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8").decode("latin-1")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_wait(attempt: int, retry_after: float | None, base: float = 0.2,
               jitter: float | None = None) -> float:
    """Exponential backoff with jitter, or the upstream's Retry-After when it says more."""
    spread = random.random() if jitter is None else jitter
    backoff = base * (2 ** attempt) * (0.5 + spread)
    return max(backoff, retry_after or 0.0)
