"""A proxied body is passed on as it arrives (api/proxy/answers.py): reads grow while the
upstream keeps them full, so a fast upstream streams in large writes, and a slow one's bytes
are not held back until a large read fills."""

from __future__ import annotations

import hashlib
import socket
import threading

import pytest

from integration_hub.api.proxy import answers

FIRST = 300 * 1024  # more than the first read, sent at once
REST = 5 * 1024 * 1024  # sent once the test has seen the first bytes
WAIT = 10.0


class OneRequestUpstream:
    """A loopback server for one request: ``answer`` gets the connection once the request's
    head has arrived."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.server.settimeout(WAIT)
        connection, _ = self.server.accept()
        with connection:
            connection.settimeout(WAIT)
            head = b""
            while b"\r\n\r\n" not in head:
                head += connection.recv(65536)
            self.answer(connection)

    def answer(self, connection: socket.socket) -> None:
        raise NotImplementedError


class PausingUpstream(OneRequestUpstream):
    """Answers with a declared length, sends ``FIRST`` bytes of it, waits for ``go``, then
    sends the rest."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.body = bytes(range(256)) * ((FIRST + REST) // 256)
        super().__init__()

    def answer(self, connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                           b"Content-Length: %d\r\n\r\n" % len(self.body))
        connection.sendall(self.body[:FIRST])
        self.go.wait(WAIT)
        connection.sendall(self.body[FIRST:])

    def close(self) -> None:
        self.go.set()
        self.thread.join(WAIT)
        self.server.close()


@pytest.fixture
def pausing():
    upstream = PausingUpstream()
    yield upstream
    upstream.close()


def test_the_first_bytes_go_out_before_the_upstream_sends_the_rest(client, member, keyed,
                                                                   pausing):
    integration = keyed(api_base_uri=pausing.url)
    answer = client.get(f"/api/integrations/{integration}/request/file",
                        headers=member.headers, buffered=False)
    assert answer.status_code == 200
    chunks = iter(answer.response)
    first: list[bytes] = []
    reader = threading.Thread(target=lambda: first.append(next(chunks)), daemon=True)
    reader.start()
    reader.join(WAIT / 2)  # the upstream still holds back the rest

    try:
        assert first, "the proxy held the first bytes back until a large read filled"
        assert len(first[0]) == answers.FIRST_CHUNK
        received = bytearray(first[0])
        pausing.go.set()
        sizes = []
        for chunk in chunks:
            sizes.append(len(chunk))
            received += chunk
        assert hashlib.sha256(received).digest() == hashlib.sha256(pausing.body).digest()
        assert max(sizes) > answers.FIRST_CHUNK  # once reads fill quickly, they grow
        assert max(sizes) <= answers.CHUNK
    finally:
        answer.close()


class ShortUpstream(OneRequestUpstream):
    """Declares ``DECLARED`` bytes, sends ``SENT`` of them and closes the connection."""

    DECLARED, SENT = 1000, 400

    def answer(self, connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % self.DECLARED
                           + b"x" * self.SENT)


def test_an_upstream_that_ends_short_of_its_length_ends_the_stream_with_an_error(
        client, member, keyed):
    short = ShortUpstream()
    integration = keyed(api_base_uri=short.url)
    answer = client.get(f"/api/integrations/{integration}/request/file",
                        headers=member.headers, buffered=False)
    received = 0
    with pytest.raises(Exception) as ended:  # noqa: PT011 - whichever the server sees
        for chunk in answer.response:
            received += len(chunk)
    answer.close()
    short.thread.join(WAIT)
    short.server.close()

    assert received == ShortUpstream.SENT
    assert "IncompleteRead" in repr(ended.value) or "ProtocolError" in repr(ended.value)
