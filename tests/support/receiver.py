"""A real local HTTP server receiving the hub's webhook deliveries, for the webhook tests.

``start_receiver()`` runs a threaded HTTP/1.1 server (keep-alive supported) on 127.0.0.1, ephemeral
port, in this process. Each request is recorded as a :class:`Delivery` *before* it is answered, so
a client holding its answer finds it recorded. The answer: a behaviour queued for the path (``fail``,
``hang``, ``drop``; first in, first out, one request each) wins; else 401 when the path has a secret
(``expect_secret``) that the ``X-Hub-Signature-256`` does not match; else 200 ``ok``. Bodies are read
by ``Content-Length``; one over 1 MiB is read and thrown away (so the client, still sending, gets the
answer rather than a reset), recorded with an empty body and answered 413, taking no behaviour.

Nothing is logged to stderr; a failing handler answers 500 (when it still can), is remembered in
:attr:`Receiver.errors` and never stops the server.
"""

from __future__ import annotations

import atexit
import collections
import hashlib
import hmac
import json
import socket
import socketserver
import struct
import sys
import threading
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1024 * 1024
PIECE = 64 * 1024
# Errors that only mean "the client went away" (timeouts, aborts): expected, never reported.
_GONE = (ConnectionError, TimeoutError)


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value the hub sends with ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    """One request as the receiver got it, and what it answered."""

    method: str
    path: str                     # without the query
    headers: dict[str, str]       # names lower-cased (of duplicates, the last one)
    body: bytes                   # b"" when over 1 MiB
    status: int                   # what the receiver answered; 0 when it dropped the connection
    signature_valid: bool | None  # None when no secret is expected for the path
    query: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event(self) -> str | None:
        return self.headers.get("x-hub-event")


@dataclass
class _Behaviour:
    status: int = 200
    delay: float = 0.0
    drop: bool = False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version, sys_version = "receiver-harness", ""
    disable_nagle_algorithm = True  # head and body are written separately: no 40 ms stalls
    server: _Server

    def log_message(self, format, *args) -> None:
        pass

    def _handle(self) -> None:
        receiver = self.server.receiver
        try:
            path, _, query = self.path.partition("?")
            headers = {name.lower(): value for name, value in self.headers.items()}
            length = headers.get("content-length", "0")
            if "transfer-encoding" in headers or not length.isdigit():
                self.send_error(411, explain="this receiver reads bodies by Content-Length only")
                return
            body, too_big = self._read_body(int(length)), int(length) > MAX_BODY
            secret, queued = receiver._rules(path, take=not too_big)
            valid = None if secret is None else not too_big and _signature_valid(secret, body, headers)
            if too_big:
                behaviour = _Behaviour(status=413)
            else:
                behaviour = queued or _Behaviour(status=401 if valid is False else 200)
            status = 0 if behaviour.drop else behaviour.status
            receiver._record(Delivery(self.command, path, headers, body, status, valid, query))
            if behaviour.drop:
                return self._drop()
            if behaviour.delay and receiver._stopping.wait(behaviour.delay):
                self.close_connection = True
                return
            answer = b"ok" if status == 200 else f"receiver answered {status}".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except _GONE:
            self.close_connection = True
        except Exception:
            self.close_connection = True
            receiver.errors.append(traceback.format_exc())
            try:
                self.send_error(500, explain="receiver harness error (see Receiver.errors)")
            except OSError:
                pass

    do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = _handle

    def _read_body(self, length: int) -> bytes:
        pieces, left = [], length
        while left:
            piece = self.rfile.read(min(PIECE, left))
            if not piece:
                raise ConnectionError("the client closed the connection inside the body")
            left -= len(piece)
            if length <= MAX_BODY:
                pieces.append(piece)
        return b"".join(pieces)

    def _drop(self) -> None:
        """Close the TCP connection at once (RST), having written nothing at all."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # it holds a reference on the socket: without this, close() does not close
        self.connection.close()


def _signature_valid(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    given = headers.get("x-hub-signature-256", "")
    return given.startswith("sha256=") and hmac.compare_digest(
        sign(secret, body).encode(), given.encode("latin-1", "replace"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not make server_close() wait
    receiver: Receiver

    def server_bind(self) -> None:
        # HTTPServer.server_bind() does a reverse DNS lookup (getfqdn): slow, and not needed.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], _GONE):
            self.receiver.errors.append(traceback.format_exc())


class Receiver:
    """A running webhook receiver (in a thread of this process)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()  # guards the state below; notified on each delivery
        self._deliveries: list[Delivery] = []
        self._behaviours: dict[str, collections.deque[_Behaviour]] = {}
        self._secrets: dict[str, str] = {}
        self.errors: list[str] = []  # tracebacks of handler failures (clients going away are not)
        self._stopping = threading.Event()  # also cuts hang() short
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"receiver-{self.port}", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def expect_secret(self, path: str, secret: str) -> None:
        """Check the signature of every request to ``path`` with ``secret``."""
        with self._changed:
            self._secrets[path] = secret

    def fail(self, path: str, times: int = 1, status: int = 500) -> None:
        """Answer the next ``times`` requests to ``path`` with ``status``."""
        self._queue(path, times, _Behaviour(status=status))

    def hang(self, path: str, seconds: float, times: int = 1) -> None:
        """Wait ``seconds`` before answering 200 (the delivery is recorded on arrival)."""
        self._queue(path, times, _Behaviour(delay=seconds))

    def drop(self, path: str, times: int = 1) -> None:
        """Close the connection without answering anything (recorded with status 0)."""
        self._queue(path, times, _Behaviour(drop=True))

    def deliveries(self, path: str | None = None) -> list[Delivery]:
        """Everything received so far (on ``path`` only, when given), in arrival order."""
        with self._changed:
            return [d for d in self._deliveries if path is None or d.path == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 10.0) -> list[Delivery]:
        """Wait until at least ``count`` deliveries arrived (on ``path``); answers all of them."""
        with self._changed:
            if self._changed.wait_for(lambda: len(self.deliveries(path)) >= count, timeout):
                return self.deliveries(path)
            received = [f"{d.method} {d.path} {d.event} -> {d.status}" for d in self._deliveries]
        raise AssertionError(f"expected {count} deliveries on {path or 'any path'} within {timeout}s, "
                             f"received {len(received)}: {received}")

    def reset(self) -> None:
        """Forget deliveries, queued behaviours, secrets and errors."""
        with self._changed:
            for state in (self._deliveries, self._behaviours, self._secrets, self.errors):
                state.clear()

    def stop(self) -> None:
        """Stop serving and close the listening socket; hanging answers end at once, unanswered."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        atexit.unregister(self.stop)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- for the handler -------------------------------------------------------------------------
    def _queue(self, path: str, times: int, behaviour: _Behaviour) -> None:
        with self._changed:
            self._behaviours.setdefault(path, collections.deque()).extend([behaviour] * times)

    def _rules(self, path: str, take: bool) -> tuple[str | None, _Behaviour | None]:
        """The path's secret, and its next queued behaviour (taken off the queue when ``take``)."""
        with self._changed:
            queue = self._behaviours.get(path)
            return self._secrets.get(path), (queue.popleft() if queue and take else None)

    def _record(self, delivery: Delivery) -> None:
        with self._changed:
            self._deliveries.append(delivery)
            self._changed.notify_all()


def start_receiver() -> Receiver:
    """Start a webhook receiver on 127.0.0.1 (ephemeral port); it is stopped at exit at the latest."""
    return Receiver()
