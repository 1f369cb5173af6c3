"""The upstream HTTP server harness (tests/support/upstream.py) works end to end.

No hub here: plain HTTP calls (requests, http.client, raw sockets) against the real server,
proving the recordings and the behaviours that the hub's proxy tests rely on.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import socket
import threading
import time

import pytest
import requests

from tests.support.upstream import Behaviour, big_body, big_sha256, start_upstream

MiB = 1024 * 1024


@pytest.fixture
def upstream(upstream):
    """The shared recording upstream; a handler failure fails the test."""
    yield upstream
    assert not upstream.errors, "the upstream harness failed:\n" + "\n".join(upstream.errors)


@pytest.fixture
def session():
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


def pattern(total: int, piece: int = MiB):
    """A deterministic upload of ``total`` bytes, as a generator (requests sends it chunked)."""
    for offset in range(0, total, piece):
        n = min(piece, total - offset)
        yield (offset.to_bytes(8, "big") * (n // 8 + 1))[:n]


def sha_of(pieces) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for piece in pieces:
        digest.update(piece)
        size += len(piece)
    return digest.hexdigest(), size


def raw_exchange(upstream, data: bytes) -> http.client.HTTPResponse:
    sock = socket.create_connection(("127.0.0.1", upstream.port), timeout=5)
    sock.sendall(data)
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.read()
    sock.close()
    return response


# -- recording ------------------------------------------------------------------------------------
def test_echo_records_method_raw_path_query_and_duplicate_headers(upstream):
    conn = http.client.HTTPConnection("127.0.0.1", upstream.port, timeout=5)
    conn.putrequest("PATCH", "/a%2Fb/c%20d?x=1&x=2&y=%2F", skip_accept_encoding=True)
    conn.putheader("X-Dup", "one")
    conn.putheader("x-MiXeD", "v")
    conn.putheader("x-dup", "two")
    conn.putheader("Content-Length", "5")
    conn.endheaders(b"hello")
    response = conn.getresponse()
    echoed = json.loads(response.read())
    conn.close()

    assert response.status == 200
    assert response.getheader("Content-Type") == "application/json"
    (record,) = upstream.requests()
    assert record.method == "PATCH"
    assert record.path == "/a%2Fb/c%20d"
    assert record.raw_target == "/a%2Fb/c%20d?x=1&x=2&y=%2F"
    assert record.query == "x=1&x=2&y=%2F"
    assert [h for h in record.headers if h[0].lower() in ("x-dup", "x-mixed")] == [
        ("X-Dup", "one"), ("x-MiXeD", "v"), ("x-dup", "two")]
    assert record.header("X-DUP") == "one"
    assert record.header_all("x-dup") == ["one", "two"]
    assert record.header("absent") is None
    assert record.body == b"hello" and record.body_size == 5 and not record.chunked
    assert record.body_sha256 == hashlib.sha256(b"hello").hexdigest()
    assert echoed["method"] == "PATCH" and echoed["path"] == "/a%2Fb/c%20d"
    assert echoed["query"] == "x=1&x=2&y=%2F"
    assert ["X-Dup", "one"] in echoed["headers"] and ["x-dup", "two"] in echoed["headers"]
    assert echoed["body"] == "hello" and echoed["body_size"] == 5
    assert echoed["body_sha256"] == record.body_sha256


def test_double_slash_and_binary_bodies_are_kept_as_received(upstream, session):
    conn = http_client(upstream)
    conn.request("POST", "//double//slash?", body=b"\xff\x00\xfe")
    echoed = json.loads(conn.getresponse().read())
    conn.close()
    (record,) = upstream.requests()
    assert record.raw_target == "//double//slash?" and record.path == "//double//slash"
    assert record.query == ""
    assert echoed["body"] is None and echoed["body_size"] == 3


def http_client(upstream) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", upstream.port, timeout=5)


def test_requests_filters_by_path_prefix_in_arrival_order(upstream, session):
    for path in ("/a/1", "/b/1", "/a/2"):
        session.get(upstream.url + path)
    assert [r.path for r in upstream.requests()] == ["/a/1", "/b/1", "/a/2"]
    assert [r.path for r in upstream.requests("/a/")] == ["/a/1", "/a/2"]
    times = [r.time for r in upstream.requests()]
    assert times == sorted(times)


def test_chunked_upload_is_decoded(upstream, session):
    pieces = [b"first", b"x" * 100_000, b"", b"last"]  # requests skips the empty piece
    response = session.post(upstream.url + "/up", data=iter(pieces))
    assert response.status_code == 200
    (record,) = upstream.requests()
    assert record.chunked and record.header("Transfer-Encoding") == "chunked"
    assert record.body == b"".join(pieces)
    assert (record.body_sha256, record.body_size) == sha_of(pieces)
    assert response.json()["body_size"] == record.body_size


def test_chunk_extensions_and_trailers(upstream):
    response = raw_exchange(upstream, (
        b"POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n"))
    assert response.status == 200
    (record,) = upstream.requests()
    assert record.body == b"hello world" and record.trailers == [("X-Checksum", "abc")]


def test_50_mib_chunked_upload_is_recorded_by_size_and_hash_only(upstream, session):
    total = 50 * MiB
    response = session.put(upstream.url + "/blob", data=pattern(total))
    assert response.status_code == 200
    (record,) = upstream.requests()
    assert record.chunked and record.body == b""
    assert (record.body_sha256, record.body_size) == sha_of(pattern(total))
    assert response.json()["body"] is None


def test_content_length_upload_streamed(upstream):
    total = 20 * MiB
    conn = http_client(upstream)
    conn.putrequest("POST", "/cl")
    conn.putheader("Content-Length", str(total))
    conn.endheaders()
    for piece in pattern(total):
        conn.send(piece)
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 200
    (record,) = upstream.requests()
    assert not record.chunked and record.body == b""
    assert (record.body_sha256, record.body_size) == sha_of(pattern(total))


def test_bodies_up_to_1_mib_are_kept(upstream, session):
    session.post(upstream.url + "/k", data=b"a" * MiB)
    session.post(upstream.url + "/k", data=b"a" * (MiB + 1))
    kept, dropped = upstream.requests()
    assert kept.body == b"a" * MiB and kept.body_size == MiB
    assert dropped.body == b"" and dropped.body_size == MiB + 1
    assert dropped.body_sha256 == hashlib.sha256(b"a" * (MiB + 1)).hexdigest()


def test_expect_100_continue_is_answered_before_the_body(upstream):
    sock = socket.create_connection(("127.0.0.1", upstream.port), timeout=5)
    sock.sendall(b"PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    interim = b""
    while b"\r\n\r\n" not in interim:
        interim += sock.recv(1024)
    assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
    sock.sendall(b"hello")
    response = http.client.HTTPResponse(sock)
    response.begin()
    assert response.status == 200 and json.loads(response.read())["body"] == "hello"
    sock.close()


def test_bad_chunked_body_is_a_400_and_the_server_lives_on(upstream, session):
    response = raw_exchange(upstream, b"POST /bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      b"zz\r\n")
    assert response.status == 400
    assert raw_exchange(upstream, b"GET / NOT-HTTP/1.1\r\n\r\n").status == 400
    assert session.get(upstream.url + "/after").status_code == 200


# -- answers --------------------------------------------------------------------------------------
def test_big_download_is_streamed_with_a_matching_sha256(upstream, session):
    size = 20 * MiB + 123
    upstream.respond("/big", Behaviour(big=size))
    with session.get(upstream.url + "/big", stream=True) as response:
        assert response.headers["Content-Length"] == str(size)
        digest, received = sha_of(response.iter_content(256 * 1024))
    assert received == size
    assert digest == upstream.sent_sha256 == big_sha256(size)
    assert upstream.sent_size == size
    assert sha_of(big_body(3 * 65536)) != sha_of([next(big_body(65536))] * 3)  # pieces differ


def test_big_download_chunked_and_gzipped(upstream, session):
    size = 3 * MiB
    upstream.respond("/big", {"big": size, "chunked": True}, {"big": size, "gzip": True})
    response = session.get(upstream.url + "/big")
    assert response.headers["Transfer-Encoding"] == "chunked" and "Content-Length" not in response.headers
    assert hashlib.sha256(response.content).hexdigest() == big_sha256(size) == upstream.sent_sha256
    with session.get(upstream.url + "/big", stream=True) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Transfer-Encoding"] == "chunked"
        compressed = response.raw.read(decode_content=False)
    assert hashlib.sha256(gzip.decompress(compressed)).hexdigest() == big_sha256(size)


def test_chunked_answer(upstream):
    body = bytes(range(256)) * 1000
    upstream.respond("/c", {"body": body, "chunked": True, "headers": [("Content-Type", "x/y")]})
    conn = http_client(upstream)
    conn.request("GET", "/c")
    response = conn.getresponse()
    assert response.chunked and response.getheader("Content-Length") is None
    assert response.getheader("Content-Type") == "x/y"
    assert response.read() == body
    conn.close()
    assert upstream.sent_sha256 == hashlib.sha256(body).hexdigest()


def test_gzip_answer_has_the_compressed_length(upstream, session):
    text = "hello upstream " * 1000
    upstream.respond("/gz", {"body": text, "gzip": True}, sticky=True)
    with session.get(upstream.url + "/gz", stream=True) as response:
        compressed = response.raw.read(decode_content=False)
        assert response.headers["Content-Encoding"] == "gzip"
        assert int(response.headers["Content-Length"]) == len(compressed) < len(text)
    assert gzip.decompress(compressed).decode() == text
    assert session.get(upstream.url + "/gz").text == text  # requests decodes it


def test_json_and_text_bodies(upstream, session):
    upstream.respond("/j", {"json": {"a": [1, 2]}, "status": 201}, {"body": "plain"})
    first = session.get(upstream.url + "/j")
    assert first.status_code == 201 and first.json() == {"a": [1, 2]}
    assert first.headers["Content-Type"] == "application/json"
    second = session.get(upstream.url + "/j")
    assert second.text == "plain" and second.headers["Content-Type"] == "text/plain; charset=utf-8"


HOP_BY_HOP = [
    ("Connection", "x-custom, Keep-Alive"),
    ("Keep-Alive", "timeout=5, max=100"),
    ("X-Custom", "hop"),
    ("Proxy-Authenticate", 'Basic realm="upstream"'),
    ("Upgrade", "websocket"),
    ("Trailer", "X-Checksum"),
    ("Set-Cookie", "a=1; Path=/; HttpOnly"),
    ("Set-Cookie", "b=2; Path=/"),
    ("Strict-Transport-Security", "max-age=63072000"),
    ("Access-Control-Allow-Origin", "*"),
]


def test_hop_by_hop_and_sensitive_headers_are_sent_as_given(upstream):
    upstream.respond("/hop", {"headers": HOP_BY_HOP, "body": b"ok"})
    conn = http_client(upstream)
    conn.request("GET", "/hop")
    response = conn.getresponse()
    assert response.read() == b"ok"
    sent = response.getheaders()
    assert [h for h in sent if h in HOP_BY_HOP] == HOP_BY_HOP
    # Connection: x-custom does not close: the same connection serves the next request.
    conn.request("GET", "/next")
    assert conn.getresponse().read()
    conn.close()
    first, second = upstream.requests()
    assert first.connection == second.connection


def test_keep_alive_and_connection_close(upstream, session):
    upstream.respond("/close", {"headers": [("Connection", "close")]})
    for path in ("/1", "/2", "/close", "/3"):
        assert session.get(upstream.url + path).status_code == 200
    one, two, close, three = upstream.requests()
    assert one.connection == two.connection == close.connection != three.connection


def test_head_and_204_have_no_body(upstream, session):
    upstream.respond("/h", {"body": "abc"})
    upstream.respond("/n", {"status": 204})
    head = session.head(upstream.url + "/h")
    assert head.headers["Content-Length"] == "3" and head.content == b""
    empty = session.get(upstream.url + "/n")
    assert empty.status_code == 204 and "Content-Length" not in empty.headers
    assert session.get(upstream.url + "/after").status_code == 200
    assert len({r.connection for r in upstream.requests()}) == 1


def test_redirect(upstream, session):
    upstream.respond("/old", {"redirect": "/new"}, {"redirect": "https://elsewhere.test/x", "status": 307})
    followed = session.get(upstream.url + "/old")
    assert followed.status_code == 200 and followed.json()["path"] == "/new"
    assert followed.history[0].status_code == 302
    assert followed.history[0].headers["Location"] == "/new"
    moved = session.get(upstream.url + "/old", allow_redirects=False)
    assert moved.status_code == 307 and moved.headers["Location"] == "https://elsewhere.test/x"
    assert [r.path for r in upstream.requests()] == ["/old", "/new", "/old"]


def test_delay(upstream, session):
    upstream.respond("/slow", {"delay": 0.3}, {"delay": 0.4})
    started = time.monotonic()
    assert session.get(upstream.url + "/slow").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.ReadTimeout):
        session.get(upstream.url + "/slow", timeout=(2, 0.1))


def test_body_delay(upstream, session):
    upstream.respond("/drip", {"body": "late", "body_delay": 0.4}, {"body": "later", "body_delay": 0.4})
    started = time.monotonic()
    with session.get(upstream.url + "/drip", stream=True) as response:
        assert time.monotonic() - started < 0.3  # the head comes at once
        assert response.text == "late"
    assert time.monotonic() - started >= 0.4
    with session.get(upstream.url + "/drip", stream=True, timeout=(2, 0.1)) as response:
        assert response.status_code == 200
        with pytest.raises(requests.ConnectionError):  # a read timeout inside the body
            response.content  # noqa: B018


def test_requests_are_served_concurrently(upstream, session):
    upstream.respond("/slow", {"delay": 0.5})
    slow = threading.Thread(target=lambda: requests.get(upstream.url + "/slow", timeout=5))
    slow.start()
    time.sleep(0.05)
    started = time.monotonic()
    assert session.get(upstream.url + "/fast").status_code == 200
    assert time.monotonic() - started < 0.4
    slow.join()


# -- queues ---------------------------------------------------------------------------------------
def test_queued_behaviours_are_consumed_in_order_then_echo(upstream, session):
    upstream.respond("/q", {"status": 201}, Behaviour(status=202))
    upstream.respond("/q", {"status": 203})
    statuses = [session.get(upstream.url + "/q?any=1").status_code for _ in range(4)]
    assert statuses == [201, 202, 203, 200]
    assert session.get(upstream.url + "/q").json()["path"] == "/q"


def test_sticky_behaviour_repeats(upstream, session):
    upstream.respond("/s", {"status": 500}, {"status": 503, "json": {"down": True}}, sticky=True)
    answers = [session.get(upstream.url + "/s") for _ in range(4)]
    assert [a.status_code for a in answers] == [500, 503, 503, 503]
    assert answers[-1].json() == {"down": True}
    upstream.reset()
    assert session.get(upstream.url + "/s").status_code == 200


def test_path_prefix_with_star(upstream, session):
    upstream.respond("/api/*", {"status": 418}, sticky=True)
    upstream.respond("/api/exact", {"status": 202})
    assert session.get(upstream.url + "/api/x/y?z=1").status_code == 418
    assert session.get(upstream.url + "/api/").status_code == 418
    assert session.get(upstream.url + "/apix").status_code == 200
    assert session.get(upstream.url + "/api").status_code == 200
    assert session.get(upstream.url + "/api/exact").status_code == 202  # exact wins while it has one
    assert session.get(upstream.url + "/api/exact").status_code == 418


def test_unknown_behaviour_keys_are_refused(upstream):
    with pytest.raises(TypeError):
        upstream.respond("/x", {"stauts": 500})


# -- failures -------------------------------------------------------------------------------------
def test_close_makes_the_client_see_a_connection_error(upstream, session):
    upstream.respond("/gone", {"close": True})
    with pytest.raises(requests.ConnectionError):
        session.post(upstream.url + "/gone", data=b"payload")
    (record,) = upstream.requests()
    assert record.body == b"payload"
    assert session.get(upstream.url + "/gone").status_code == 200  # the queue is empty again


@pytest.mark.parametrize(("status", "headers"), [
    (401, [("WWW-Authenticate", 'Bearer error="invalid_token"')]),
    (429, [("Retry-After", "7")]),
    (503, [("Retry-After", "120")]),
])
def test_status_pass_through(upstream, session, status, headers):
    upstream.respond("/st", {"status": status, "headers": headers, "json": {"error": status}})
    response = session.get(upstream.url + "/st")
    assert response.status_code == status and response.json() == {"error": status}
    for name, value in headers:
        assert response.headers[name] == value


def test_a_failing_handler_answers_500_and_does_not_kill_the_server(upstream, session):
    upstream.respond("/boom", {"json": object()})  # not serialisable
    response = session.get(upstream.url + "/boom")
    assert response.status_code == 500
    (error,) = upstream.errors
    assert "TypeError" in error
    upstream.reset()
    assert session.get(upstream.url + "/fine").status_code == 200


def test_stop_closes_the_socket_even_with_idle_keep_alive_connections():
    server = start_upstream()
    session = requests.Session()
    session.trust_env = False
    assert session.get(server.url + "/idle").status_code == 200  # leaves a pooled connection open
    started = time.monotonic()
    server.stop()
    server.stop()
    assert time.monotonic() - started < 2
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/after", timeout=2)
    session.close()
