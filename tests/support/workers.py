"""What keeps parallel test workers (pytest-xdist, ``make test``) out of each other's way.

Each worker is a process of its own with its own session fixtures (databases, servers, a
browser); what they still share is the machine: the database servers, Redis and the TCP
ports. ``WORKER`` names this process ("gw0", "gw1"..., "main" in a serial run) and goes into
every database, role, user and queue name the tests make, so a leftover says whose it was.

``free_port()`` is for servers started in another process (gunicorn, nginx), which cannot be
handed a listening socket: the port is probed, released, then bound by the other program. Its
ports come from a block of this worker's own, below the kernel's ephemeral range, so neither
another worker's probe nor any process's outgoing connection can take the port in between.
Servers inside the test process bind port 0 and keep the socket: no helper needed.
"""

from __future__ import annotations

import errno
import os
import random
import re
import socket

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")

# Ports 20000-31999 lie below Linux's default ephemeral range (32768-60999); one block each.
PORT_BASE, PORT_BLOCK, PORT_BLOCKS = 20000, 500, 24


def worker_index() -> int:
    """0 for gw0, 1 for gw1...; the last block for a serial run, clear of the workers'."""
    found = re.fullmatch(r"gw(\d+)", WORKER)
    return int(found[1]) % (PORT_BLOCKS - 1) if found else PORT_BLOCKS - 1


def worker_name(prefix: str) -> str:
    """``prefix`` with this worker's id: ``hubtest_gw1``."""
    return f"{prefix}_{WORKER}"


_block = range(PORT_BASE + worker_index() * PORT_BLOCK,
               PORT_BASE + (worker_index() + 1) * PORT_BLOCK)
# A random start: two runs on one machine (a serial one beside another) rarely meet either.
_next = random.randrange(len(_block))


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on, from this worker's block (see above)."""
    global _next
    for _ in range(len(_block)):
        port = _block[_next % len(_block)]
        _next += 1
        if _bindable(port):
            return port
    raise RuntimeError(f"no free port in {_block.start}-{_block.stop - 1} for worker {WORKER}")
