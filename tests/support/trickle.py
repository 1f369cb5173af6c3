"""A loopback HTTP server that answers one byte at a time, for deadline tests.

``start_trickle(phase, answer, pause)`` listens on 127.0.0.1 (ephemeral port) in this
process. For every request it reads the head and ``Content-Length`` body, then sends
``answer`` (a whole HTTP answer) one byte every ``pause`` seconds: all of it when
``phase`` is ``"head"``, or the head at once and the body byte by byte when it is
``"body"``. Each connection ends as ``"finished"`` (every byte sent) or ``"hung-up"`` (the
client closed first); :meth:`Trickle.outcomes` waits for the connections to end and
answers how. The server never runs longer than ``len(answer) * pause`` per connection.
:meth:`Trickle.wait_for_connections` waits until the server accepted that many;
:meth:`Trickle.hang_up` ends every connection still open (so a client waiting on one
returns at once).
"""

from __future__ import annotations

import atexit
import socket
import threading
import time

WAIT = 10.0  # seconds a request head may take to arrive (a failure, never a measure)


class Trickle:
    def __init__(self, phase: str, answer: bytes, pause: float) -> None:
        assert phase in ("head", "body")
        self.phase, self.answer, self.pause = phase, answer, pause
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self._lock = threading.Lock()
        self._served: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self._outcomes: list[str] = []
        self._accepted = threading.Condition(self._lock)
        threading.Thread(target=self._accept_loop, daemon=True,
                         name=f"trickle-{self.port}").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def longest(self) -> float:
        """Seconds a connection takes when the client waits for every byte."""
        return len(self.answer) * self.pause

    def outcomes(self) -> list[str]:
        """How each connection ended, once all have (at most ``longest`` each, plus slack)."""
        with self._lock:
            served = list(self._served)
        for thread in served:
            thread.join(self.longest + WAIT)
            assert not thread.is_alive(), "a trickling connection did not end"
        with self._lock:
            return list(self._outcomes)

    def accepted(self) -> int:
        """How many connections the server accepted so far."""
        with self._lock:
            return len(self._served)

    def wait_for_connections(self, count: int, timeout: float = WAIT) -> None:
        with self._accepted:
            assert self._accepted.wait_for(lambda: len(self._served) >= count, timeout), (
                f"expected {count} connections within {timeout} s, got {len(self._served)}")

    def hang_up(self) -> None:
        """End every open connection now (the client reads the end of the stream)."""
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept_loop(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            with self._lock:
                self._served.append(thread)
                self._open.add(connection)
                self._accepted.notify_all()
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(WAIT)
            try:
                _read_request(connection)
                head, _, body = self.answer.partition(b"\r\n\r\n")
                if self.phase == "body":
                    connection.sendall(head + b"\r\n\r\n")
                    trickled = body
                else:
                    trickled = self.answer
                for index in range(len(trickled)):
                    time.sleep(self.pause)
                    connection.sendall(trickled[index:index + 1])
                outcome = "finished"
            except OSError:  # reset or broken pipe: the client hung up
                outcome = "hung-up"
        with self._lock:
            self._open.discard(connection)
            self._outcomes.append(outcome)

    def stop(self) -> None:
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._socket.close()


def _read_request(connection: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = connection.recv(65536)
        if not piece:
            raise OSError("the client went away before its request ended")
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
    while len(body) < length:
        piece = connection.recv(65536)
        if not piece:
            raise OSError("the client went away before its request ended")
        body += piece


def start_trickle(phase: str, answer: bytes, pause: float) -> Trickle:
    server = Trickle(phase, answer, pause)
    atexit.register(server.stop)
    return server
