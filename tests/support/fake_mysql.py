"""A hostile MySQL server on loopback that asks its clients for a file (LOAD DATA LOCAL).

It speaks just enough of the MySQL client/server protocol for PyMySQL: a v10 handshake that
offers ``CLIENT_LOCAL_FILES``, OK to any authentication, OK to every ``SET ...`` statement, ping,
reset and change of database, and to every other query a LOCAL INFILE request (``0xFB`` and the
file name it wants). A client that honours the request sends the file's content in packets
numbered on from the request, then an empty packet; the server answers OK. A client that ignores
it sends its next command (numbered from 0) or goes away.

:attr:`FakeMysql.received` holds every byte the clients sent, :attr:`FakeMysql.file_data` what
they sent as file content; :attr:`FakeMysql.connections` counts the connections accepted.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field

# Capability flags offered in the handshake (no SSL, so the client stays in clear text).
_CAPABILITIES = (1 | 2 | 4 | 8          # long password, found rows, long flag, connect with db
                 | 128                  # LOCAL_FILES: this server may ask for files
                 | 512 | 8192 | 32768   # protocol 4.1, transactions, secure connection
                 | 1 << 17 | 1 << 19)   # multi results, plugin auth
_COM_QUIT, _COM_INIT_DB, _COM_QUERY, _COM_PING, _COM_RESET_CONNECTION = 0x01, 0x02, 0x03, 0x0E, 0x1F


def _ok() -> bytes:
    return b"\x00\x00\x00" + struct.pack("<HH", 2, 0)  # affected 0, insert id 0, autocommit


@dataclass
class FakeMysql:
    wanted_file: str
    host: str = "127.0.0.1"
    port: int = 0
    received: bytearray = field(default_factory=bytearray)
    file_data: bytearray = field(default_factory=bytearray)
    infile_requests: int = 0
    connections: int = 0
    queries: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server((self.host, 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._open:
                sock.close()

    def __enter__(self) -> FakeMysql:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # -- serving -------------------------------------------------------------------------------
    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            self._send(sock, 0, self._handshake())
            self._read(sock)  # the handshake response (user, scrambled password): accepted
            self._send(sock, 2, _ok())
            pending = None
            while True:
                seq, payload = pending or self._read(sock)
                pending = None
                command, argument = payload[:1], payload[1:]
                if command == bytes([_COM_QUIT]):
                    return
                if command == bytes([_COM_QUERY]):
                    text = argument.decode("utf-8", "replace")
                    self.queries.append(text)
                    if not text.lstrip().upper().startswith("SET "):
                        pending = self._ask_for_file(sock)
                        continue
                self._send(sock, seq + 1, _ok())
        except (OSError, ConnectionError, EOFError):
            return
        finally:
            sock.close()

    def _ask_for_file(self, sock: socket.socket) -> tuple[int, bytes] | None:
        """Request the file; collect what comes back as its content. Answers the client's next
        command (sequence 0) when it did not send a file, to be served by the loop."""
        with self._lock:
            self.infile_requests += 1
        self._send(sock, 1, b"\xfb" + self.wanted_file.encode())
        while True:
            seq, payload = self._read(sock)
            if seq == 0:  # a new command: the request was ignored
                return seq, payload
            if not payload:  # end of the file's content
                self._send(sock, seq + 1, _ok())
                return None
            with self._lock:
                self.file_data += payload

    def _handshake(self) -> bytes:
        salt = b"abcdefgh" + b"ijklmnopqrst"
        return (b"\x0a" + b"5.7.44-fake\x00" + struct.pack("<I", 7) + salt[:8] + b"\x00"
                + struct.pack("<H", _CAPABILITIES & 0xFFFF) + bytes([45]) + struct.pack("<H", 2)
                + struct.pack("<H", _CAPABILITIES >> 16) + bytes([len(salt) + 1]) + b"\x00" * 10
                + salt[8:] + b"\x00" + b"mysql_native_password\x00")

    def _send(self, sock: socket.socket, seq: int, payload: bytes) -> None:
        sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq % 256]) + payload)

    def _read(self, sock: socket.socket) -> tuple[int, bytes]:
        header = self._exactly(sock, 4)
        length = header[0] | header[1] << 8 | header[2] << 16
        return header[3], self._exactly(sock, length)

    def _exactly(self, sock: socket.socket, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            if not chunk:
                raise EOFError
            data += chunk
            with self._lock:
                self.received += chunk
        return bytes(data)


@dataclass
class SilentServer:
    """A loopback listener that accepts connections and never says a word."""

    host: str = "127.0.0.1"
    port: int = 0
    accepted: int = 0

    def __post_init__(self) -> None:
        self._listener = socket.create_server((self.host, 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            self._open.append(sock)  # kept open, never read nor written

    def close(self) -> None:
        self._listener.close()
        for sock in self._open:
            sock.close()

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
