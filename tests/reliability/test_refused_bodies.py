"""A body the hub answers without reading leaves the caller's connection usable.

``integration-hub serve`` (gunicorn with gunicorn.conf.py, as ``make run`` and production
start it) keeps connections alive. One keep-alive client sends, twenty rounds over, bodies
the hub refuses before reading them to their end (icons and JSON too large, a wrong token,
an unknown integration, a proxied body over the proxy's limit, a proxied call to an
upstream that is not there) with ordinary requests in between: every next request on the
connection must succeed. Bodies of up to 4 MiB are read and dropped, so the connection
stays open; a body declared or sent much larger is not read: the answer says
``Connection: close`` and the server closes the connection.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from urllib.parse import urlsplit

import pytest

from tests.e2e.test_refresh_across_processes import free_port
from tests.support.served_hub import production_hub

ROUNDS = 20
WAIT = 30  # seconds any socket operation may block: a bound, not an expectation
PNG = b"\x89PNG\r\n\x1a\n"
PROXY_LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with production_hub(tmp_path_factory.mktemp("served"),
                        HUB_PROXY_MAX_BODY=str(PROXY_LIMIT)) as served:
        yield served


@pytest.fixture(scope="module")
def integrations(hub):
    """An integration whose upstream is at an address nobody listens on, and its URLs."""
    with connection_to(hub) as conn:
        status, _, body = exchange(conn, "POST", "/api/integrations", auth(hub), json.dumps({
            "name": "Nowhere", "type": "custom", "authType": "none",
            "apiBaseUri": f"http://127.0.0.1:{free_port()}/v1"}).encode(),
            {"Content-Type": "application/json"})
    assert status == 201, body
    return json.loads(body)["id"]


def auth(hub) -> dict[str, str]:
    return {"Authorization": f"Bearer {hub.token}"}


class connection_to:  # noqa: N801 - used as a context manager
    def __init__(self, hub) -> None:
        self.conn = http.client.HTTPConnection(urlsplit(hub.base).hostname,
                                               urlsplit(hub.base).port, timeout=WAIT)

    def __enter__(self) -> http.client.HTTPConnection:
        return self.conn

    def __exit__(self, *_) -> None:
        self.conn.close()


def exchange(conn: http.client.HTTPConnection, method: str, path: str, headers: dict,
             body: bytes | None = None, more: dict | None = None) -> tuple[int, str, bytes]:
    """One request on ``conn``: status, Connection header and body of the answer."""
    conn.request(method, path, body=body, headers={**headers, **(more or {})})
    answer = conn.getresponse()
    return answer.status, answer.getheader("Connection", ""), answer.read()


def code(body: bytes) -> str:
    return json.loads(body)["code"]


def test_refused_bodies_leave_the_keep_alive_connection_usable(hub, integrations):
    integration = integrations
    icon = f"/api/integrations/{integration}/icon"
    png = {"Content-Type": "image/png"}
    as_json = {"Content-Type": "application/json"}
    big_json = json.dumps({"name": "x" * (2 * 1024 * 1024)}).encode()
    refusals = [
        ("PUT", icon, auth(hub), PNG + b"i" * 600_000, png, 413, "icon_too_large"),
        ("PUT", icon, auth(hub), PNG + b"i" * 540_000, png, 413, "icon_too_large"),
        ("POST", "/api/integrations", auth(hub), big_json, as_json, 413, "payload_too_large"),
        ("POST", "/api/integrations", {"Authorization": "Bearer ihub_wrong"},
         json.dumps({"name": "y" * 300_000}).encode(), as_json, 401, "invalid_token"),
        ("PUT", "/api/integrations/no-such-one/icon", auth(hub), PNG + b"n" * 300_000, png,
         404, "integration_not_found"),
        ("PUT", f"/api/integrations/{integration}/request/things", auth(hub),
         b"p" * (2 * PROXY_LIMIT), {}, 413, "request_too_large"),
        ("POST", f"/api/integrations/{integration}/request/things", auth(hub),
         b"u" * 700_000, {}, 502, "upstream_unreachable"),
    ]
    with connection_to(hub) as conn:
        for round_ in range(ROUNDS):
            for method, path, headers, body, more, status, expected in refusals:
                what = f"round {round_}: {method} {path} ({len(body)} bytes)"
                refused = exchange(conn, method, path, headers, body, more)
                assert refused[:2] == (status, "keep-alive"), (what, refused[:2], refused[2][:300])
                assert code(refused[2]) == expected, what
                kept = conn.sock
                after = exchange(conn, "GET", f"/api/integrations/{integration}", auth(hub))
                assert after[0] == 200, (what, after)
                assert conn.sock is kept, f"{what}: the connection was not kept"


def _head_of(sock: socket.socket) -> http.client.HTTPResponse:
    answer = http.client.HTTPResponse(sock)
    answer.begin()
    return answer


def _end_of(sock: socket.socket) -> str:
    """How the server ends the connection: "eof", or "reset" for what it left unread.
    A connection left open fails the test when the socket's timeout passes."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return "reset"
    return "eof"


@pytest.mark.parametrize("what", ["icon", "json", "proxy"])
def test_a_huge_declared_body_is_not_read_the_connection_is_closed(hub, integrations, what):
    path = {"icon": f"/api/integrations/{integrations}/icon", "json": "/api/integrations",
            "proxy": f"/api/integrations/{integrations}/request/things"}[what]
    declared = 50 * 1000 * 1000
    with socket.create_connection((urlsplit(hub.base).hostname, urlsplit(hub.base).port),
                                  timeout=WAIT) as sock:
        sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {hub.token}"
                     f"\r\nContent-Type: image/png\r\nContent-Length: {declared}\r\n\r\n"
                     .encode() + PNG + b"h" * 65536)
        answer = _head_of(sock)
        assert answer.status == 413, answer.read()[:300]
        assert answer.getheader("Connection") == "close"
        answer.read()
        assert _end_of(sock) in ("eof", "reset")


def test_an_endless_chunked_body_is_read_so_far_then_the_connection_is_closed(hub):
    """A chunked body has no declared length: after 4 MiB more, the hub stops reading."""
    with socket.create_connection((urlsplit(hub.base).hostname, urlsplit(hub.base).port),
                                  timeout=WAIT) as sock:
        sock.sendall(f"POST /api/integrations HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer "
                     f"{hub.token}\r\nContent-Type: application/json\r\n"
                     f"Transfer-Encoding: chunked\r\n\r\n".encode())
        stop = threading.Event()

        def send_forever() -> None:
            piece = b"%x\r\n%s\r\n" % (65536, b"c" * 65536)
            try:
                while not stop.is_set():
                    sock.sendall(piece)
            except OSError:
                pass  # the hub closed the connection: what is expected

        sender = threading.Thread(target=send_forever, daemon=True)
        sender.start()
        try:
            answer = _head_of(sock)
            assert answer.status == 413, answer.read()[:300]
            assert answer.getheader("Connection") == "close"
            answer.read()
            assert _end_of(sock) in ("eof", "reset")
        finally:
            stop.set()
            sender.join(WAIT)
