"""A deadline for a whole outbound call, however slowly its bytes trickle.

Used for the OAuth calls (``outbound_requests``), webhook deliveries
(``webhook_delivery``), the head of a proxied answer and a whole sync page (``proxy.send``);
the connections of ``upstream_http.pool_classes`` honour it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Deadline:
    """One call's time limit for all of it: connecting, sending, the answer's head and body.

    A socket timeout applies to each read, so a server sending a byte every few seconds
    satisfies every read while the call goes on for as long as it likes. Inside
    ``applies()``, the connections of ``upstream_http.pool_classes`` made or used by this thread connect
    within the time left and hand their socket to the deadline, which shuts it down when
    the time is up: whatever read or write was blocked on it returns at once. ``stop()``
    disarms it and tells whether the time ran out (what the call's failure then means).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._watched: socket.socket | None = None  # a duplicate of the call's socket
        self._expired = False

    def left(self) -> float:
        return self.at - time.monotonic()

    @contextmanager
    def applies(self) -> Iterator[Deadline]:
        """Calls this thread makes inside the block end at the deadline."""
        outer = getattr(_CALL, "deadline", None)
        _CALL.deadline = self
        try:
            yield self
        finally:
            _CALL.deadline = outer

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down at the deadline (at once when it has passed). A duplicate of
        its descriptor is watched: it stays valid while TLS takes the socket over, and
        shutting it down ends the connection itself."""
        watched = socket.fromfd(sock.fileno(), sock.family, sock.type)
        with self._lock:
            previous, self._watched = self._watched, watched
            if self._timer is None and not self._expired:
                self._timer = threading.Timer(max(0.0, self.left()), self._expire)
                self._timer.daemon = True
                self._timer.start()
            expired = self._expired
        if previous is not None:
            previous.close()
        if expired:
            _shut(watched)

    def unwatch(self) -> None:
        """Forget the socket watched last, shutting nothing down: its connection went back to
        the pool, where another call may take it. The next ``watch`` arms the deadline again."""
        with self._lock:
            watched, self._watched = self._watched, None
        if watched is not None:
            watched.close()

    @property
    def expired(self) -> bool:
        """Whether the time is up (and the watched socket, if any, was shut down)."""
        with self._lock:
            return self._expired or self.left() <= 0

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            watched = self._watched
        if watched is not None:
            _shut(watched)

    def stop(self) -> bool:
        """Disarm (waiting for a shutdown already under way); True when time ran out."""
        with self._lock:
            timer = self._timer
        if timer is not None:
            timer.cancel()
            if timer is not threading.current_thread():
                timer.join()
        with self._lock:
            watched, self._watched = self._watched, None
            expired = self._expired
        if watched is not None:
            watched.close()
        return expired


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


_CALL = threading.local()  # the calling thread's Deadline: urllib3 connects in that thread


def current_deadline() -> Deadline | None:
    """The deadline the calling thread's outbound calls are under, if any."""
    return getattr(_CALL, "deadline", None)
