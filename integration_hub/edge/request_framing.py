"""A request body as its framing declares it, and what becomes of the part nobody read.

``RequestBody`` stands in for ``wsgi.input``: it counts what is read and never reads past a
declared ``Content-Length`` (what follows on the connection is the next request), so the
hub knows whether a body was read to its end. The raw proxy reads the caller's body
through ``pieces``: exactly as framed, 400 ``request_body_incomplete`` when it ends early
or its chunks are malformed, and within the call's deadline (408 ``request_body_timeout``).

``UnreadBodies`` decides, before each answer goes out, what happens to a body the hub
answered without reading to its end (413 before reading, 401, 403, 404, 415, 429, a
proxied call refused or failed before its body went out ...). gunicorn keeps connections
alive; left alone, it reads at most 64 KiB of such a body after the answer and, finding
more, closes the connection it had just announced as kept alive: the client's next
request on it failed. Now:

- the rest of a declared length up to ``DRAIN_BYTES``, or a chunked body ending within
  as much, is read and dropped before the answer, within ``DRAIN_SECONDS``; the
  connection stays open for the next request;
- anything else (a larger declared length, a longer or slower body, a read that failed,
  reading shut down at a deadline) is answered with ``Connection: close``, and the server
  closes the connection after the answer.

The answer's status and headers are held until the application has returned (Flask has
ended the request's database session by then), so a drain holds no pooled connection.
See docs/decisions.md, "Operations and hardening".
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from integration_hub import errors
from integration_hub.outbound.deadlines import Deadline, current_deadline

DRAIN_BYTES = 4 * 1024 * 1024
DRAIN_SECONDS = 3.0
PIECE = 64 * 1024
ENVIRON_KEY = "integration_hub.request_body"


class RequestBodyIncomplete(errors.MalformedBody):
    code, title = "request_body_incomplete", "The request body ended before its framing said"


class RequestBodyTimeout(errors.HubError):
    status, code, title = 408, "request_body_timeout", "The request body did not arrive in time"


class TransferCodingNotSupported(errors.HubError):
    status, code, title = 501, "transfer_coding_not_supported", "The transfer coding is not supported"


def client_socket(environ: dict[str, Any]) -> socket.socket | None:
    """The caller's connection, as gunicorn and Werkzeug's server hand it over."""
    return environ.get("gunicorn.socket") or environ.get("werkzeug.socket")


class RequestBody:
    """``wsgi.input`` read as framed. ``declared`` is how long the body is (None when it
    is chunked): its Content-Length, or 0 when it has neither (an empty body)."""

    def __init__(self, stream: Any, content_length: str | None, transfer_encoding: str,
                 sock: socket.socket | None = None) -> None:
        self._stream, self._socket = stream, sock
        self.codings = [c.strip() for c in transfer_encoding.lower().split(",") if c.strip()]
        self.chunked = "chunked" in self.codings
        self.received = 0
        self._ended = False    # a read answered nothing: the server saw the body's end
        self.broken = False    # a read failed, or reading was shut: the connection is spent
        self.declared: int | None = None
        stated = (content_length or "").strip()
        self.length: int | None = None  # the Content-Length as stated (not when chunked)
        if not self.chunked:
            valid = not stated or (stated.isascii() and stated.isdigit())
            self.declared = int(stated) if stated and valid else 0
            self.length = self.declared if stated and valid else None
            self.broken = not valid  # where the body ends is unknown

    @classmethod
    def of(cls, environ: dict[str, Any]) -> RequestBody:
        """The request's body, taking ``wsgi.input``'s place the first time."""
        body = environ.get(ENVIRON_KEY)
        if body is None:
            body = cls(environ["wsgi.input"], environ.get("CONTENT_LENGTH"),
                       environ.get("HTTP_TRANSFER_ENCODING", ""), client_socket(environ))
            environ[ENVIRON_KEY] = environ["wsgi.input"] = body
        return body

    def require_plain(self) -> None:
        """Refuse a body under a transfer coding other than ``chunked`` (``gzip, chunked``):
        servers undo only ``chunked``, so passing the bytes on as the content would hand
        compressed bytes to whoever reads them (RFC 9112, 6.1: 501)."""
        if other := [c for c in self.codings if c != "chunked"]:
            raise TransferCodingNotSupported(
                f"transfer coding {', '.join(other)!s} is not supported; send the body "
                "with a Content-Length or chunked only (a Content-Encoding is passed on)")

    @property
    def whole(self) -> bool:
        """Read to its end as framed."""
        if self.declared is not None:
            return self.received >= self.declared
        return self._ended

    @property
    def reusable(self) -> bool:
        """Whether the connection can carry the caller's next request."""
        return self.whole and not self.broken

    @property
    def present(self) -> bool:
        """Whether there is a body to pass on (a chunked one may still be empty)."""
        return self.chunked or bool(self.declared)

    # -- wsgi.input ------------------------------------------------------------------------
    def _allowed(self, size: int | None) -> int | None:
        if self.declared is None:
            return None if size is None or size < 0 else size
        left = max(self.declared - self.received, 0)
        return left if size is None or size < 0 else min(size, left)

    def _reading(self, read: Callable[..., bytes], size: int | None) -> bytes:
        wanted = self._allowed(size)
        if wanted == 0:
            return b""
        try:
            data = read() if wanted is None else read(wanted)
        except Exception:
            self.broken = True
            raise
        self.received += len(data)
        if not data:
            self._ended = True
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._reading(self._stream.read, size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._reading(self._stream.readline, size)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(self)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    # -- bounded reading -------------------------------------------------------------------
    @contextmanager
    def reading_until(self, seconds: float | None) -> Iterator[Deadline | None]:
        """Reads inside the block end after ``seconds`` (None: whenever they end): the
        reading side of the caller's connection is then shut down (the answer can still be
        written), and the connection is spent."""
        if seconds is None or self._socket is None:
            yield None
            return
        deadline = Deadline(seconds, shutdown=socket.SHUT_RD)
        deadline.watch(self._socket)
        try:
            yield deadline
        finally:
            if deadline.stop():
                self.broken = True

    def pieces(self, size: int) -> Iterator[bytes]:
        """The body in pieces of at most ``size`` bytes, exactly as framed, read within the
        deadline the calling thread is under (``Deadline.applies``), if any."""
        outer = current_deadline()
        with self.reading_until(outer.left() if outer else None) as deadline:
            try:
                while piece := self.read(size):
                    if deadline is not None and deadline.expired and not self.whole:
                        break  # a short read at the deadline: not the body's end
                    yield piece
            except Exception:
                if not self.whole:
                    raise _unfinished(deadline) from None
                raise
        if not self.whole:
            raise _unfinished(deadline)


def _unfinished(deadline: Deadline | None) -> errors.HubError:
    if deadline is not None and deadline.expired:
        return RequestBodyTimeout(f"the request body did not arrive within "
                                  f"{deadline.seconds:g} s")
    return RequestBodyIncomplete("the request body ended before its Content-Length, or its "
                                 "chunked framing is broken")


def drained(body: RequestBody) -> bool:
    """Read and drop the rest of a body, when it is at most ``DRAIN_BYTES`` and comes within
    ``DRAIN_SECONDS``: whether the connection can carry the next request."""
    if body.broken or (body.declared is not None
                       and body.declared - body.received > DRAIN_BYTES):
        return False
    budget = DRAIN_BYTES
    with body.reading_until(DRAIN_SECONDS):
        try:
            while not body.whole and budget >= 0:
                piece = body.read(min(PIECE, budget + 1))
                if not piece:
                    break
                budget -= len(piece)
        except Exception:  # the caller went away, or its chunks are malformed
            return False
    return body.reusable


# -- the middleware ----------------------------------------------------------------------------

class UnreadBodies:
    """WSGI middleware: every answer leaves the connection ready for the caller's next
    request, or says ``Connection: close`` and has the server close it."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        head = _HeldHead(environ, start_response, RequestBody.of(environ))
        answer = self.app(environ, head.start_response)
        head.release()
        return answer


class _HeldHead:
    """The answer's status and headers, passed on to the server once the application has
    returned (or writes, or gives them only later), with what happens to the connection
    decided then."""

    def __init__(self, environ: dict[str, Any], start_response: Callable,
                 body: RequestBody) -> None:
        self._environ, self._start, self._body = environ, start_response, body
        self._head: tuple[str, list, Any] | None = None
        self._holding = True
        self._write: Callable | None = None

    def start_response(self, status: str, headers: list, exc_info: Any = None) -> Callable:
        if self._write is not None:  # passed on already: the server decides (PEP 3333)
            return self._start(status, headers, exc_info)
        self._head = (status, headers, exc_info)
        return self._pass_on() if not self._holding else self._late_write

    def release(self) -> None:
        self._holding = False
        if self._head is not None and self._write is None:
            self._pass_on()

    def _late_write(self, data: bytes) -> Any:
        if self._write is None:
            self._pass_on()
        return self._write(data)

    def _pass_on(self) -> Callable:
        status, headers, exc_info = self._head
        if not (self._body.reusable or drained(self._body)):
            headers = _closing(self._environ, self._start, list(headers))
        self._write = self._start(status, headers, exc_info)
        return self._write


def _closing(environ: dict[str, Any], start_response: Callable, headers: list) -> list:
    """Headers of an answer after which the server closes the connection. gunicorn takes
    no Connection header from the application: its answer object is asked instead, and
    then says ``Connection: close`` itself. Werkzeug's server closes every connection and
    says so. Any other server is told by the header."""
    force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
    if callable(force_close):
        force_close()
    elif "werkzeug.socket" not in environ:
        headers = [(name, value) for name, value in headers if name.lower() != "connection"]
        headers.append(("Connection", "close"))
    return headers
