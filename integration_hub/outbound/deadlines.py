"""A deadline for a whole outbound call, however slowly its bytes trickle.

Used for the OAuth calls (``outbound_requests``), webhook deliveries
(``webhook_delivery``), the head of a proxied answer and a whole sync page (``proxy.send``);
the connections of ``upstream_http.pool_classes`` honour it. Reading a caller's request
body is bounded the same way, shutting down only the reading side of the caller's
connection so that the answer can still be written (``request_framing``).
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
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

    def __init__(self, seconds: float, shutdown: int = socket.SHUT_RDWR) -> None:
        self.seconds = seconds
        self.shutdown = shutdown  # SHUT_RD: reading ends, what is still to write can go
        self.at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._alarm: _Alarm | None = None
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
            if self._alarm is None and not self._expired:
                self._alarm = _WATCHDOG.at(self.at, self._expire)
            expired = self._expired
        if previous is not None:
            previous.close()
        if expired:
            _shut(watched, self.shutdown)

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
        # Shut down under the lock: once ``stop`` or ``unwatch`` holds it, no shutdown is
        # under way on a descriptor they are about to close (whose number could be reused).
        with self._lock:
            self._expired = True
            if self._watched is not None:
                _shut(self._watched, self.shutdown)

    def stop(self) -> bool:
        """Disarm (after a shutdown already under way); True when time ran out."""
        with self._lock:
            if self._alarm is not None:
                _WATCHDOG.cancel(self._alarm)
            watched, self._watched = self._watched, None
            expired = self._expired
        if watched is not None:
            watched.close()
        return expired


def _shut(sock: socket.socket, how: int) -> None:
    try:
        sock.shutdown(how)
    except OSError:
        pass


class _Alarm:
    __slots__ = ("action", "cancelled")

    def __init__(self, action: Callable[[], None]) -> None:
        self.action, self.cancelled = action, False


class _Watchdog:
    """One thread for every deadline of the process: a thread per call would cost more
    than the rest of a proxied call's work (about 200 us to start and join one)."""

    def __init__(self) -> None:
        self._alarms: list[tuple[float, int, _Alarm]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._cancelled = 0  # alarms cancelled but still in the heap

    def at(self, when: float, action: Callable[[], None]) -> _Alarm:
        """Run ``action`` on the watchdog's thread at ``when`` (``time.monotonic()``)
        unless the alarm is cancelled first."""
        alarm = _Alarm(action)
        with self._wake:
            heapq.heappush(self._alarms, (when, next(self._order), alarm))
            if self._thread is None or not self._thread.is_alive():  # first use, or forked
                self._thread = threading.Thread(target=self._run, name="hub-deadlines",
                                                daemon=True)
                self._thread.start()
            elif self._alarms[0][2] is alarm:
                self._wake.notify()
        return alarm

    def cancel(self, alarm: _Alarm) -> None:
        """The alarm will not run. Cancelled alarms leave the heap when they come first, or
        all at once when they are most of it (most calls end long before their deadline)."""
        with self._wake:
            if alarm.cancelled:
                return
            alarm.cancelled = True
            self._cancelled += 1
            if self._cancelled > 256 and self._cancelled * 2 > len(self._alarms):
                self._alarms = [entry for entry in self._alarms if not entry[2].cancelled]
                heapq.heapify(self._alarms)
                self._cancelled = 0

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._alarms and self._alarms[0][2].cancelled:
                    heapq.heappop(self._alarms)
                    self._cancelled -= 1
                if not self._alarms:
                    self._wake.wait()
                    continue
                wait = self._alarms[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                alarm = heapq.heappop(self._alarms)[2]
                alarm.cancelled = True  # it runs now: a later cancel has nothing to undo
            alarm.action()


_WATCHDOG = _Watchdog()
_CALL = threading.local()  # the calling thread's Deadline: urllib3 connects in that thread


def current_deadline() -> Deadline | None:
    """The deadline the calling thread's outbound calls are under, if any."""
    return getattr(_CALL, "deadline", None)
