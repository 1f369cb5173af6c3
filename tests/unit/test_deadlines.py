"""Deadlines end blocked calls at their time, and share one watchdog thread
(integration_hub/outbound/deadlines.py)."""

from __future__ import annotations

import socket
import threading
import time

from integration_hub.outbound import deadlines


def blocked_reads(count: int) -> list[tuple[socket.socket, socket.socket]]:
    return [socket.socketpair() for _ in range(count)]


def test_a_deadline_shuts_a_blocked_read_down_at_its_time():
    ours, theirs = socket.socketpair()
    deadline = deadlines.Deadline(0.3)
    deadline.watch(ours)
    started = time.monotonic()
    assert ours.recv(1) == b""  # returns at the deadline: the socket was shut down
    assert time.monotonic() - started < 5
    assert deadline.stop() is True and deadline.expired
    ours.close(), theirs.close()


def test_a_stopped_deadline_leaves_its_socket_alone():
    ours, theirs = socket.socketpair()
    deadline = deadlines.Deadline(0.2)
    deadline.watch(ours)
    assert deadline.stop() is False
    time.sleep(0.4)
    theirs.sendall(b"x")
    assert ours.recv(1) == b"x"
    ours.close(), theirs.close()


def test_many_deadlines_share_one_thread():
    pairs = blocked_reads(40)
    before = threading.active_count()
    watched = []
    for number, (ours, _) in enumerate(pairs):
        deadline = deadlines.Deadline(0.2 + (number % 4) * 0.05)
        deadline.watch(ours)
        watched.append(deadline)
    assert threading.active_count() <= before + 1
    # half are stopped in time; the others end their reads
    for deadline in watched[::2]:
        assert deadline.stop() is False
    for ours, _ in pairs[1::2]:
        assert ours.recv(1) == b""
    assert all(deadline.stop() for deadline in watched[1::2])
    for ours, theirs in pairs[::2]:  # never shut down, long after their time
        theirs.sendall(b"y")
        assert ours.recv(1) == b"y"
    for ours, theirs in pairs:
        ours.close(), theirs.close()


def test_cancelled_alarms_do_not_pile_up():
    watchdog = deadlines._Watchdog()
    ran = []
    far = time.monotonic() + 3600
    for _ in range(2000):
        watchdog.cancel(watchdog.at(far, lambda: ran.append(1)))
    assert len(watchdog._alarms) <= 600
    fired = threading.Event()
    watchdog.at(time.monotonic() + 0.05, fired.set)
    assert fired.wait(5) and ran == []
