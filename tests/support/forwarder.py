"""A TCP forwarder on loopback that a test can cut and restore, to take a server away from
the hub without touching the server (which other tests share).

``start_forwarder(host, port)`` listens on 127.0.0.1 (ephemeral port) in this process and
relays every connection to ``host:port``, byte for byte, in both directions.
:meth:`Forwarder.cut` closes every relayed connection at once (both sides, as a server that
goes away does) and from then on closes each new connection as soon as it is accepted, as a
server that is restarting does; :meth:`Forwarder.restore` relays new connections again.
"""

from __future__ import annotations

import atexit
import socket
import threading

PIECE = 64 * 1024
CONNECT_TIMEOUT = 10.0


class Forwarder:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._up = True
        threading.Thread(target=self._accept_loop, daemon=True,
                         name=f"forwarder-{self.port}").start()

    def cut(self) -> None:
        """Close every relayed connection; refuse new ones until ``restore``."""
        with self._lock:
            self._up = False
            sockets, self._open = self._open, set()
        for sock in sockets:
            _close(sock)

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def stop(self) -> None:
        self.cut()
        _close(self._socket)

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._socket.accept()
            except OSError:
                return
            with self._lock:
                up = self._up
            if not up:
                _close(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=CONNECT_TIMEOUT)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if not self._up:  # cut while connecting
                    _close(client)
                    _close(server)
                    continue
                self._open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while piece := source.recv(PIECE):
                sink.sendall(piece)
        except OSError:
            pass
        with self._lock:
            self._open.discard(source)
            self._open.discard(sink)
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def start_forwarder(host: str, port: int) -> Forwarder:
    forwarder = Forwarder(host, port)
    atexit.register(forwarder.stop)
    return forwarder
