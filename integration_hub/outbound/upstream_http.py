"""The proxy's transport: pooled upstream connections that follow the outbound network
policy (decided on the resolved addresses, before connecting) and end with the deadline
of a call made under one (``deadlines.Deadline``); answers read within a size limit; and
the pure rules for which headers cross the hub in either direction."""

from __future__ import annotations

import email.utils
import random
import re
import socket
import sys
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family, create_connection

from integration_hub import errors
from integration_hub.outbound.answer_heads import UpstreamAnswer
from integration_hub.outbound.deadlines import current_deadline
from integration_hub.outbound.policy import address_denied

# Caller headers the raw proxy forwards (plus If-* and data.forwardHeaders).
FORWARDED_REQUEST_HEADERS = frozenset({"accept", "accept-language", "content-type", "range",
                                       "cache-control"})
# Headers of one connection, never of a message (RFC 9110 7.6.1).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "proxy-connection", "te", "trailer", "trailers", "transfer-encoding",
                        "upgrade"})
NEVER_FORWARDED = HOP_BY_HOP | {"authorization", "cookie", "host", "content-length", "forwarded",
                                "x-real-ip", "proxy-authorization"}
DROPPED_RESPONSE_HEADERS = HOP_BY_HOP | {"set-cookie", "set-cookie2", "strict-transport-security"}
# Challenges a browser answers by itself, prompting and then keeping what was typed for the
# hub's origin: an upstream's is passed on under UPSTREAM_CHALLENGE, never as a challenge
# (docs/security.md, "API tokens over HTTP Basic").
BROWSER_SCHEMES = frozenset({"basic", "digest"})
UPSTREAM_CHALLENGE = "X-Upstream-WWW-Authenticate"
_QUOTED = re.compile(r'"(?:[^"\\\r\n]|\\.)*"?')  # one unterminated ends with its line
_ELEMENTS = re.compile(r"[,\r\n]")  # a folded value's lines, too, each start one
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
PIECE = 64 * 1024  # bytes read (after decompression) at a time by ``read_capped``
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})
# Requests of these methods carry content: servers answer 411 to one that states no length.
CONTENT_METHODS = frozenset({"POST", "PUT", "PATCH"})


class UpstreamAddressDenied(errors.Forbidden):
    code, title = "upstream_address_denied", "The upstream resolves to a private address"


class UpstreamUnreachable(errors.HubError):
    status, code, title = 502, "upstream_unreachable", "The upstream could not be reached"


class UpstreamTimeout(errors.HubError):
    status, code, title = 504, "upstream_timeout", "The upstream did not answer in time"


class AnswerTooLarge(Exception):
    """The answer is longer than the reader takes; ``received`` bytes of it were read."""

    def __init__(self, limit: int, received: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit, self.received = limit, received


class DeniedAddress(urllib3.exceptions.NewConnectionError):
    """Raised inside urllib3 when the host resolves to an address the policy denies."""


class _PinnedConnection:
    """Resolves the host once, checks every address it answers (with the policy on) and
    connects to those addresses only: what was checked is what is connected to, and a
    denied address never sees a connection. The name stays the connection's ``host``, so
    the Host header, TLS SNI and the certificate check still use it. Under a deadline
    (``Deadline.applies``) connecting takes at most the time left, and the socket is
    watched from the start: TLS handshake, request and answer all end at the deadline."""

    deny_private = False
    response_class = UpstreamAnswer  # http.client's answer, its head read without email.parser

    def request(self, *args, **kwargs) -> None:
        deadline = current_deadline()
        if deadline is not None and self.sock is not None:  # a kept-alive connection
            deadline.watch(self.sock)
        super().request(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        deadline = current_deadline()
        host = self._dns_host.strip("[]")
        try:
            answers = socket.getaddrinfo(host, self.port, allowed_gai_family(), socket.SOCK_STREAM)
        except socket.gaierror as failure:
            raise NameResolutionError(self.host, self, failure) from failure
        addresses = list(dict.fromkeys(sockaddr[0] for *_, sockaddr in answers))
        if self.deny_private and any(address_denied(address) for address in addresses):
            raise DeniedAddress(self, f"{self.host} resolves to a denied address")
        failure: Exception = NewConnectionError(self, f"{self.host} has no address")
        for address in addresses:  # in the resolver's order, as urllib3 itself would
            timeout = self.timeout
            if deadline is not None:
                if deadline.left() <= 0:
                    failure = ConnectTimeoutError(self, f"connecting to {self.host} timed out")
                    break
                timeout = (min(timeout, deadline.left()) if isinstance(timeout, int | float)
                           else deadline.left())
            try:
                sock = create_connection((address, self.port), timeout,
                                         source_address=self.source_address,
                                         socket_options=self.socket_options)
            except TimeoutError:
                failure = ConnectTimeoutError(self, f"connecting to {self.host} timed out")
            except OSError as error:
                failure = NewConnectionError(self, f"cannot connect to {self.host}: {error}")
            else:
                sys.audit("http.client.connect", self, self.host, self.port)
                if deadline is not None:
                    deadline.watch(sock)
                return sock
        raise failure


def _pool_classes(deny_private: bool) -> dict[str, type[HTTPConnectionPool]]:
    def pinned(base: type) -> type:
        return type(f"Pinned{base.__name__}", (_PinnedConnection, base),
                    {"deny_private": deny_private})

    return {"http": type("PinnedHTTPPool", (HTTPConnectionPool,),
                         {"ConnectionCls": pinned(HTTPConnection)}),
            "https": type("PinnedHTTPSPool", (HTTPSConnectionPool,),
                          {"ConnectionCls": pinned(HTTPSConnection)})}


_POOL_CLASSES = {deny: _pool_classes(deny) for deny in (False, True)}


def pool_classes(deny_private: bool) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pool classes whose connections follow the outbound policy."""
    return dict(_POOL_CLASSES[deny_private])


def pool_manager(deny_private: bool, maxsize: int = 20) -> urllib3.PoolManager:
    """One pool per upstream host, reused across requests (keep-alive)."""
    manager = urllib3.PoolManager(num_pools=100, maxsize=maxsize, block=False, retries=False)
    manager.pool_classes_by_scheme = pool_classes(deny_private)
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


def read_capped(answer: urllib3.BaseHTTPResponse, limit: int) -> bytes:
    """The whole (decoded) body of ``answer`` when it holds at most ``limit`` bytes.

    An uncompressed answer declaring a longer ``Content-Length`` is refused before a byte
    of its body is read; any other answer is counted piece by piece as it is decompressed,
    and refused as soon as it passes ``limit``. So at most ``limit + 1`` bytes are ever read
    or held, whatever the upstream declares, chunks or compresses. A refused answer's
    connection is closed (the rest is never read) and ``AnswerTooLarge`` raised. An answer
    that breaks off, stalls or does not decompress is the hub's 502 or 504.
    """
    declared = answer.length_remaining
    encoded = answer.headers.get("Content-Encoding", "").strip().lower() not in ("", "identity")
    if declared is not None and declared > limit and not encoded:
        answer.close()
        raise AnswerTooLarge(limit, 0)
    pieces: list[bytes] = []
    received = 0
    try:
        while piece := answer.read(min(PIECE, limit + 1 - received), decode_content=True):
            received += len(piece)
            if received > limit:
                answer.close()
                raise AnswerTooLarge(limit, received)
            pieces.append(piece)
    except urllib3.exceptions.DecodeError:
        answer.close()
        raise UpstreamUnreachable("the upstream's answer could not be decompressed") from None
    except urllib3.exceptions.HTTPError as failure:
        answer.close()
        raise transport_error(failure) from None
    return b"".join(pieces)


def body_framing(method: str, body: bytes | Iterable[bytes] | None,
                 length: int | None) -> tuple[dict[str, str], bool]:
    """The header framing a request body upstream, and whether to send it chunked: as the
    caller framed it, never both ways. A known length is that ``Content-Length``, its body
    streamed as it comes; a body of unknown length is chunked. Without a body,
    ``Content-Length: 0`` when the caller declared it, or for a method whose requests carry
    content (POST, PUT, PATCH); no framing otherwise (GET, HEAD, DELETE ...)."""
    if isinstance(body, bytes):
        return {"Content-Length": str(len(body))}, False
    if body is None:
        stated = length == 0 or method.upper() in CONTENT_METHODS
        return ({"Content-Length": "0"} if stated else {}), False
    if length is None:
        return {"Transfer-Encoding": "chunked"}, True
    return {"Content-Length": str(length)}, False


def without_framing(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` but any Content-Length or Transfer-Encoding: only ``body_framing`` says
    how a body is framed."""
    return {name: value for name, value in headers.items()
            if name.lower() not in FRAMING_HEADERS}


def forwardable_request_headers(headers: Iterable[tuple[str, str]],
                                extra_allowed: Iterable[str] = ()) -> dict[str, str]:
    """The caller's headers the raw proxy may pass on (docs/decisions.md, "The request proxy")."""
    extra = {h.lower() for h in extra_allowed}
    allowed = FORWARDED_REQUEST_HEADERS | extra if extra else FORWARDED_REQUEST_HEADERS
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


def challenges_browsers(value: str) -> bool:
    """Whether a ``WWW-Authenticate`` value names Basic or Digest among its challenges
    (RFC 9110 11.6.1: ``#challenge``, each ``scheme [ token68 / #auth-param ]``), in any
    case. The first word of every comma-separated element, quoted strings aside, counts as
    a scheme: more than any browser reads as one (the first word of the field), never less."""
    for element in _ELEMENTS.split(_QUOTED.sub('""', value)):
        words = element.split(None, 1)
        if words and words[0].lower() in BROWSER_SCHEMES:
            return True
    return False


def response_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Upstream headers the caller gets: no hop-by-hop (nor those named in Connection),
    no cookies, no HSTS, no CORS, and no challenge a browser would answer itself (a
    ``WWW-Authenticate`` naming Basic or Digest goes out as ``UPSTREAM_CHALLENGE``).
    Content-Encoding and -Length stay as sent (the body is passed on undecoded)."""
    kept, named = [], set()
    for name, value in headers:
        lowered = name.lower()
        if lowered == "connection":
            named.update(token.strip().lower() for token in value.split(","))
        elif lowered not in DROPPED_RESPONSE_HEADERS and not lowered.startswith("access-control-"):
            if lowered == "www-authenticate" and challenges_browsers(value):
                name = UPSTREAM_CHALLENGE
            kept.append((lowered, name, value))
    return [(name, value) for lowered, name, value in kept if lowered not in named]


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
