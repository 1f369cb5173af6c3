"""``requests`` sessions that follow the outbound network policy, for the calls the hub makes
with ``requests`` (Authlib's OAuth2 client: token, revocation and user-info endpoints).

They connect through the proxy's own connections (resolved once, every address checked
before connecting when ``HUB_PROXY_DENY_PRIVATE`` is on), never follow a redirect, ignore
proxy settings and ``.netrc`` from the environment, always have a timeout, and read at most
``MAX_ANSWER`` bytes of an answer within ``ANSWER_DEADLINE`` seconds.

The deadline covers the whole call, head and body. A read timeout alone does not: it
applies to each read of the socket, and a server sending one byte every few seconds
satisfies every read while the call goes on for as long as it likes. So each call runs
under a ``deadlines.Deadline``, which shuts the connection's socket down when the time is
up; whatever read was blocked on it returns at once.
"""

from __future__ import annotations

import threading
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from integration_hub.outbound.deadlines import Deadline
from integration_hub.outbound.upstream_http import DeniedAddress, pool_classes

TIMEOUT = (10, 30)  # connect, read (seconds), unless a call says otherwise
MAX_ANSWER = 1024 * 1024  # bytes: a token, a profile or a revocation answer is far smaller
ANSWER_DEADLINE = 60.0  # seconds for a whole answer, however slowly it arrives
PIECE = 16 * 1024


class AddressDenied(requests.ConnectionError):
    """The host resolves to an address the outbound policy denies; nothing was sent."""


class AnswerTooLarge(requests.RequestException):
    """The answer is larger than ``MAX_ANSWER``."""


class PolicyAdapter(HTTPAdapter):
    """requests' transport on the outbound policy's pinned connections, answers capped."""

    def __init__(self, deny_private: bool) -> None:
        self.deny_private = deny_private
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = pool_classes(self.deny_private)

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             **kwargs: Any) -> requests.Response:
        deadline = Deadline(ANSWER_DEADLINE)
        response = None
        try:
            with deadline.applies():
                response = super().send(request, stream=True, **kwargs)
                response._content = _read_capped(response.raw, request)
                response._content_consumed = True
        except BaseException as failure:
            if response is not None:
                response.close()
            if deadline.stop():  # whatever the shutdown made of the read
                raise _too_slow(request) from None
            if isinstance(failure, requests.ConnectionError) and _denied(failure):
                raise AddressDenied("the address is denied by the outbound policy",
                                    request=request) from None
            raise
        if deadline.stop():  # a body without a length ends quietly when shut down
            response.close()
            raise _too_slow(request)
        response.raw.release_conn()
        return response


def _too_slow(request: requests.PreparedRequest) -> requests.exceptions.ReadTimeout:
    return requests.exceptions.ReadTimeout(
        f"the answer took longer than {ANSWER_DEADLINE:g} s", request=request)


def _denied(failure: requests.ConnectionError) -> bool:
    cause = failure.args[0] if failure.args else None
    return isinstance(getattr(cause, "reason", cause), DeniedAddress)


def _read_capped(raw: urllib3.BaseHTTPResponse, request: requests.PreparedRequest) -> bytes:
    body = bytearray()
    try:
        for piece in raw.stream(PIECE, decode_content=True):
            body += piece
            if len(body) > MAX_ANSWER:
                raise AnswerTooLarge(f"the answer is larger than {MAX_ANSWER} bytes",
                                     request=request)
    except urllib3.exceptions.ReadTimeoutError as failure:
        raise requests.exceptions.ReadTimeout(failure, request=request) from None
    except urllib3.exceptions.DecodeError as failure:
        raise requests.exceptions.ContentDecodingError(failure, request=request) from None
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.SSLError) as failure:
        raise requests.ConnectionError(failure, request=request) from None
    return bytes(body)


_ADAPTERS: dict[bool, PolicyAdapter] = {}
_ADAPTERS_LOCK = threading.Lock()


def policy_adapter(deny_private: bool) -> PolicyAdapter:
    """The process's adapter (and connection pool) for this network policy."""
    with _ADAPTERS_LOCK:
        if deny_private not in _ADAPTERS:
            _ADAPTERS[deny_private] = PolicyAdapter(deny_private)
        return _ADAPTERS[deny_private]


class OutboundSession(requests.Session):
    """A session whose every request follows the outbound policy; as a base class it goes
    before another session class (Authlib's). Call ``follow_policy`` once after creating it."""

    def follow_policy(self, deny_private: bool) -> None:
        self.trust_env = False  # no HTTP(S)_PROXY, no .netrc credentials
        self.max_redirects = 0
        adapter = policy_adapter(deny_private)
        for prefix in ("http://", "https://"):
            self.mount(prefix, adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = TIMEOUT
        return super().request(method, url, *args, **kwargs)


def session(deny_private: bool) -> requests.Session:
    """A plain session following the policy."""
    opened = OutboundSession()
    opened.follow_policy(deny_private)
    return opened
