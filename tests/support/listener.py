"""A loopback TCP listener that counts the connections it accepted, for the outbound policy tests.

``start_listener()`` listens on 127.0.0.1 (an ephemeral port, or the one given) in this
process and answers every connection with one fixed HTTP answer (200 ``{}`` unless told
otherwise), after reading the request's head and its ``Content-Length`` body; whatever arrived
is kept in :attr:`Listener.received`. A connection that sends nothing is still counted.

:meth:`Listener.accepted` answers how many connections were accepted before it was called,
without waiting for time to pass: it makes one connection of its own (a probe) and waits until
the accept loop takes it. The kernel hands out completed connections first in, first out, so
every connection completed before the probe has been counted by then.
"""

from __future__ import annotations

import atexit
import socket
import threading
from dataclasses import dataclass, field

WAIT = 10.0  # seconds: the longest a probe waits to be accepted (a failure, never a measure)
MAX_REQUEST = 1024 * 1024


@dataclass
class Answer:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=lambda: [
        ("Content-Type", "application/json")])
    body: bytes = b"{}"

    def encode(self) -> bytes:
        head = [f"HTTP/1.1 {self.status} Answer"]
        head += [f"{name}: {value}" for name, value in self.headers]
        head += [f"Content-Length: {len(self.body)}", "Connection: close", "", ""]
        return "\r\n".join(head).encode("latin-1") + self.body


class Listener:
    def __init__(self, answer: Answer | None = None, port: int = 0) -> None:
        self.answer = answer or Answer()
        self._socket = socket.create_server(("127.0.0.1", port), backlog=128)
        self.port = self._socket.getsockname()[1]
        self._lock = threading.Condition()
        self._peers: list[tuple[str, int]] = []  # every accepted peer, in accept order
        self._probes: set[tuple[str, int]] = set()
        self.received: list[bytes] = []
        self._stopped = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"listener-{self.port}")
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def accepted(self) -> int:
        """Connections accepted so far (the listener's own probes not counted)."""
        probe = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)
        mine = probe.getsockname()[:2]
        try:
            with self._lock:
                self._probes.add(mine)
                if not self._lock.wait_for(lambda: mine in self._peers, timeout=WAIT):
                    raise AssertionError(f"the listener did not accept its probe in {WAIT} s")
                before = self._peers[:self._peers.index(mine)]
                return sum(1 for peer in before if peer not in self._probes)
        finally:
            probe.close()

    def _accept_loop(self) -> None:
        while not self._stopped:
            try:
                connection, peer = self._socket.accept()
            except OSError:
                return
            with self._lock:
                self._peers.append(peer[:2])
                self._lock.notify_all()
            threading.Thread(target=self._serve, args=(connection, peer[:2]), daemon=True).start()

    def _serve(self, connection: socket.socket, peer: tuple[str, int]) -> None:
        with connection:
            connection.settimeout(WAIT)
            try:
                data = self._read_request(connection)
            except OSError:
                return
            with self._lock:
                if peer in self._probes or not data:
                    return
                self.received.append(data)
            try:
                connection.sendall(self.answer.encode())
            except OSError:
                pass

    @staticmethod
    def _read_request(connection: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data and len(data) < MAX_REQUEST:
            piece = connection.recv(65536)
            if not piece:
                return data
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit():
                length = min(int(value.strip()), MAX_REQUEST)
        while len(body) < length:
            piece = connection.recv(65536)
            if not piece:
                break
            body += piece
        return head + b"\r\n\r\n" + body

    def stop(self) -> None:
        self._stopped = True
        try:
            self._socket.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self._socket.close()


def start_listener(answer: Answer | None = None, port: int = 0) -> Listener:
    listener = Listener(answer, port)
    atexit.register(listener.stop)
    return listener
