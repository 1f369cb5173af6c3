"""The raw proxy frames a request body upstream as the caller framed it, and no other way.

A declared ``Content-Length`` reaches the upstream as the same ``Content-Length`` (many APIs
answer 411 to a chunked body), a chunked body stays chunked, and never both: an upstream that
read the two framings differently from the hub could be handed a second, smuggled request.
A body shorter than declared never reaches the upstream as a whole request: when the caller
stops sending, the hub answers 400 ``request_body_incomplete``; when it stalls, 408
``request_body_timeout`` at the call's deadline. Requests are written byte by byte on a
socket to a hub served over real HTTP (Werkzeug's server as the end-to-end tests use it, and
``integration-hub serve``, gunicorn, as production runs it); the upstream is the recording
server of tests/support/upstream.py.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.support.served_hub import production_hub

WAIT = 30  # seconds any socket operation may block: a bound, not an expectation
SLOW_TIMEOUT = 2  # the data.timeout of the integration used for a stalled body


@pytest.fixture(scope="session", params=["sqlite"])
def backend(request) -> str:
    """Framing does not depend on the database: one backend is enough."""
    return request.param


@dataclass
class Served:
    base: str
    token: str
    integration: str   # apiBaseUri {upstream}/v1
    slow: str          # the same with data.timeout = SLOW_TIMEOUT
    other: str         # apiBaseUri at the test's own upstream (``other_upstream``)

    def path(self, integration: str, target: str) -> str:
        return f"/api/integrations/{integration}/request/{target}"


@pytest.fixture(scope="module")
def gunicorn_hub(tmp_path_factory):
    with production_hub(tmp_path_factory.mktemp("served")) as hub:
        yield hub


@pytest.fixture(scope="module")
def other_upstream():
    server = HalfwayUpstream()
    yield server
    server.stop()


@pytest.fixture(params=["werkzeug", "gunicorn"])
def served(request, upstream, other_upstream, live_hub, make_caller, make_integration) -> Served:
    bases = {"integration": f"{upstream.url}/v1", "other": f"{other_upstream.url}/v1"}
    if request.param == "werkzeug":
        caller, make = make_caller("framer"), make_integration
        made = {name: make(f"Framing {name}", auth_type="none", api_base_uri=uri,
                           shares={"framer": 1}) for name, uri in bases.items()}
        slow = make("Framing slow", auth_type="none", api_base_uri=bases["integration"],
                    data={"timeout": SLOW_TIMEOUT}, shares={"framer": 1})
        return Served(live_hub, caller.token, made["integration"], slow, made["other"])
    hub = request.getfixturevalue("gunicorn_hub")
    made = {name: _create(hub, {"name": f"Framing {name}", "apiBaseUri": uri})
            for name, uri in bases.items()}
    slow = _create(hub, {"name": "Framing slow", "apiBaseUri": bases["integration"],
                         "data": {"timeout": SLOW_TIMEOUT}})
    return Served(hub.base, hub.token, made["integration"], slow, made["other"])


def _create(hub, values: dict) -> str:
    conn = http.client.HTTPConnection(urlsplit(hub.base).hostname, urlsplit(hub.base).port,
                                      timeout=WAIT)
    try:
        conn.request("POST", "/api/integrations", json.dumps(
            {"type": "custom", "authType": "none", **values}),
            {"Authorization": f"Bearer {hub.token}", "Content-Type": "application/json"})
        answer = conn.getresponse()
        body = answer.read()
    finally:
        conn.close()
    assert answer.status == 201, body
    return json.loads(body)["id"]


def connect(served: Served) -> socket.socket:
    parts = urlsplit(served.base)
    return socket.create_connection((parts.hostname, parts.port), timeout=WAIT)


def head(served: Served, method: str, path: str, *framing: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: hub", f"Authorization: Bearer {served.token}",
             "Content-Type: application/octet-stream", *framing, "", ""]
    return "\r\n".join(lines).encode("latin-1")


def answer_of(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    answer = http.client.HTTPResponse(sock)
    answer.begin()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()


def received(upstream, path: str) -> list:
    return [r for r in upstream.requests() if r.path == path]


def only(items: list):
    assert len(items) == 1, items
    return items[0]


def test_a_declared_length_reaches_the_upstream_as_that_length(served, upstream):
    with connect(served) as sock:
        sock.sendall(head(served, "PUT", served.path(served.integration, "things"),
                          "Content-Length: 7") + b"payload")
        status, _, body = answer_of(sock)
    assert status == 200, body
    got = only(received(upstream, "/v1/things"))
    assert got.header_all("Content-Length") == ["7"]
    assert got.header_all("Transfer-Encoding") == [] and not got.chunked
    assert got.body == b"payload"


def test_a_chunked_body_reaches_the_upstream_chunked(served, upstream):
    with connect(served) as sock:
        sock.sendall(head(served, "POST", served.path(served.integration, "things"),
                          "Transfer-Encoding: chunked")
                     + b"3\r\npay\r\n4\r\nload\r\n0\r\n\r\n")
        status, _, body = answer_of(sock)
    assert status == 200, body
    got = only(received(upstream, "/v1/things"))
    assert got.chunked and got.header_all("Transfer-Encoding") == ["chunked"]
    assert got.header_all("Content-Length") == []
    assert got.body == b"payload"


@pytest.mark.parametrize(("method", "framing", "expected"), [
    ("PUT", ["Content-Length: 0"], ["0"]),
    ("POST", [], ["0"]),           # no framing at all: an empty body, which such a method states
    ("DELETE", ["Content-Length: 0"], ["0"]),
    ("GET", [], []),
])
def test_an_empty_body_keeps_its_framing(served, upstream, method, framing, expected):
    with connect(served) as sock:
        sock.sendall(head(served, method, served.path(served.integration, "empty"), *framing))
        status, _, body = answer_of(sock)
    assert status == 200, body
    got = only(received(upstream, "/v1/empty"))
    assert got.header_all("Content-Length") == expected
    assert got.header_all("Transfer-Encoding") == [] and got.body == b""


def test_both_framings_never_reach_the_upstream_together(served, upstream):
    """Read by its Content-Length, the body would end inside the first chunk and the rest be
    a second request; read as chunked (as RFC 9112 says), it is one request."""
    smuggled = b"GET /v1/smuggled HTTP/1.1\r\nHost: upstream\r\n\r\n"
    chunked = b"7\r\npayload\r\n0\r\n\r\n"
    with connect(served) as sock:
        sock.sendall(head(served, "POST", served.path(served.integration, "things"),
                          "Content-Length: 3", "Transfer-Encoding: chunked") + chunked + smuggled)
        status, _, body = answer_of(sock)
    assert received(upstream, "/v1/smuggled") == []
    if status == 400:  # gunicorn refuses the request outright: nothing went upstream
        assert received(upstream, "/v1/things") == []
        return
    assert status == 200, body
    got = only(received(upstream, "/v1/things"))
    assert got.chunked and got.header_all("Content-Length") == []
    assert got.body == b"payload"


def test_a_body_shorter_than_declared_never_reaches_the_upstream_whole(served, upstream):
    with connect(served) as sock:
        sock.sendall(head(served, "PUT", served.path(served.integration, "short"),
                          "Content-Length: 100") + b"payload")
        sock.shutdown(socket.SHUT_WR)  # nothing more will come
        status, headers, body = answer_of(sock)
    assert (status, json.loads(body)["code"]) == (400, "request_body_incomplete"), body
    assert headers["connection"] == "close"
    assert received(upstream, "/v1/short") == []


def test_a_stalled_body_ends_at_the_calls_deadline(served, upstream):
    with connect(served) as sock:
        sock.sendall(head(served, "PUT", served.path(served.slow, "stalled"),
                          "Content-Length: 100") + b"payload")
        status, headers, body = answer_of(sock)  # and the caller sends nothing more
    assert (status, json.loads(body)["code"]) == (408, "request_body_timeout"), body
    assert headers["connection"] == "close"
    assert received(upstream, "/v1/stalled") == []


def test_a_declared_length_is_streamed_not_gathered_first(served, other_upstream):
    """The upstream has the head (with the caller's Content-Length) and the first half of the
    body while the caller still holds back the second half."""
    half = 3 * 1024 * 1024
    with connect(served) as sock:
        sock.sendall(head(served, "PUT", served.path(served.other, "big"),
                          f"Content-Length: {2 * half}") + b"a" * half)
        assert other_upstream.halfway.wait(WAIT), "the upstream never had half of the body"
        sock.sendall(b"b" * half)
        status, _, body = answer_of(sock)
    assert status == 200, body
    assert other_upstream.framing == {"content-length": str(2 * half)}
    assert other_upstream.total == 2 * half


class HalfwayUpstream:
    """A one-request-at-a-time upstream that says when half of a declared body has arrived,
    and reads the rest only then."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self.halfway = threading.Event()
        self.framing: dict[str, str] = {}
        self.total = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as stream:
                try:
                    self._one(conn, stream)
                except OSError:
                    pass

    def _one(self, conn: socket.socket, stream) -> None:
        self.halfway.clear()
        stream.readline()
        framing = {}
        while (line := stream.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() in ("content-length", "transfer-encoding"):
                framing[name.strip().lower()] = value.strip()
        self.framing, self.total = framing, 0
        length = int(framing.get("content-length", "0"))
        while self.total < length:
            piece = stream.read1(min(65536, length - self.total))
            if not piece:
                return
            self.total += len(piece)
            if self.total >= length // 2:
                self.halfway.set()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def stop(self) -> None:
        self._server.close()


def test_a_transfer_coding_other_than_chunked_is_refused_not_passed_on_undeclared(
        served, upstream):
    """Servers undo ``chunked`` but leave ``gzip`` (or any other coding) on the bytes: passed
    on as a plain body, the upstream would take compressed bytes for the content. RFC 9112
    (6.1): a transfer coding the hub does not understand is 501."""
    compressed = b"not really gzip"
    framed = f"{len(compressed):x}\r\n".encode() + compressed + b"\r\n0\r\n\r\n"
    with connect(served) as sock:
        sock.sendall(head(served, "POST", served.path(served.integration, "coded"),
                          "Transfer-Encoding: gzip, chunked") + framed)
        status, _, body = answer_of(sock)
    assert received(upstream, "/v1/coded") == []
    if status == 400:  # the server refused the request itself: nothing went upstream
        return
    assert (status, json.loads(body)["code"]) == (501, "transfer_coding_not_supported"), body
