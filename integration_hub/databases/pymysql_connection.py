"""PyMySQL's connection with what it lacks in public: a session reset, a read timeout per
query, and a clean failure when a server asks for a local file.

Imported only when a MySQL integration connects (PyMySQL is an optional dependency). The
attributes and commands used here (``_read_timeout``, ``_execute_command``,
``_read_ok_packet``, ``_force_close``) are PyMySQL internals, stable since 0.9; the tests in
tests/security/test_database_drivers.py fail if they change.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

import pymysql
from pymysql.constants import CR

COM_RESET_CONNECTION = 0x1F  # PyMySQL's constants call it COM_END


class HubMysqlConnection(pymysql.connections.Connection):
    """Opened by database_drivers for every MySQL/MariaDB integration."""

    def __init__(self, *args: Any, hub_addresses: Iterable[str] = (), **kwargs: Any) -> None:
        self._hub_addresses = tuple(hub_addresses)  # before super(): it connects
        super().__init__(*args, **kwargs)
        self._connect_read_timeout = kwargs.get("read_timeout")

    def connect(self, sock=None):
        """To the addresses the hub checked, never to a second lookup of ``host``."""
        if sock is None and self._hub_addresses:
            sock = self._pinned_socket()
        return super().connect(sock)

    def _pinned_socket(self) -> socket.socket:
        failure: OSError | None = None
        for address in self._hub_addresses:  # in the resolver's order
            try:
                sock = socket.create_connection((address, self.port), self.connect_timeout)
            except OSError as error:
                failure = error
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            self.host_info = f"socket {self.host}:{self.port}"
            return sock
        raise pymysql.err.OperationalError(
            CR.CR_CONN_HOST_ERROR, f"Can't connect to MySQL server on {self.host!r} ({failure})")

    def query(self, sql, unbuffered=False):
        try:
            return super().query(sql, unbuffered)
        except RuntimeError:
            # PyMySQL's answer to a LOAD DATA LOCAL request while local_infile is off: the
            # server now waits for a file. End the connection; it is never sent.
            self._force_close()
            raise pymysql.err.OperationalError(
                CR.CR_SERVER_LOST, "the database server asked for a file of the hub's machine "
                                   "(LOAD DATA LOCAL); the hub never sends files") from None

    def answer_timeout(self, seconds: float) -> None:
        """How long the next reads may wait for the server (until the next reset)."""
        self._read_timeout = seconds

    def reset_session(self) -> None:
        """COM_RESET_CONNECTION (session and user variables, named locks, temporary tables,
        transaction), then the character set and autocommit the hub opened it with."""
        self._execute_command(COM_RESET_CONNECTION, b"")
        self._read_ok_packet()
        self.set_character_set(self.charset, self.collation)
        self.autocommit(False)
        self._read_timeout = self._connect_read_timeout
