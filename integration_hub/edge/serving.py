"""Where ``integration-hub serve`` listens, and the address the hub is reached at from here.

``HUB_BIND`` (gunicorn's ``bind``: ``host:port``, ``[v6]:port``, ``unix:path``) is read
from the settings table (integration_hub/config/table.py) by gunicorn.conf.py, ``serve`` and
``demo`` alike, so the demo's integrations and the printed ``curl`` lines name the address
actually served. A port that another program holds
is told before anything starts, with a free one to pick instead.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping

from integration_hub.config import table

DEFAULT_PORT = 8000  # gunicorn's, for a bind that names only a host
SUGGESTIONS = 100    # ports tried after a busy one, to suggest a free one
# Addresses that listen everywhere: the hub is reached on the loopback of the same family.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}


def configured_bind(environ: Mapping[str, str] | None = None) -> str:
    """``HUB_BIND``, or 127.0.0.1:8000 (read alone: a wrong HUB_WORKERS is gunicorn's to report)."""
    return table.value("HUB_BIND", environ)


def host_and_port(bind: str) -> tuple[str, int] | None:
    """(host, port) of a TCP bind as gunicorn reads it; None for a socket file or descriptor."""
    if bind.startswith(("unix:", "fd://")):
        return None
    if bind.startswith("["):
        host, _, rest = bind[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif bind.count(":") == 1:
        host, port = bind.split(":")
    else:  # a host alone, or a bare IPv6 address
        host, port = bind, ""
    if not port:
        return host, DEFAULT_PORT
    return (host, int(port)) if port.isdigit() and int(port) < 65536 else None


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def local_url(bind: str) -> str | None:
    """``http://host:port`` where this machine reaches a hub bound to ``bind``; None when
    ``bind`` is no TCP address (a socket file: only HUB_PUBLIC_URL can say)."""
    address = host_and_port(bind)
    if address is None:
        return None
    host, port = address
    return f"http://{_netloc(_WILDCARDS.get(host, host), port)}"


def in_use(bind: str) -> bool:
    """Another socket listens on ``bind`` (tried as gunicorn binds: SO_REUSEADDR, so a port
    with connections only waiting to close counts as free)."""
    address = host_and_port(bind)
    if address is None:
        return False
    host, port = address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as refused:  # any other failure is gunicorn's to report, in its words
        return refused.errno == errno.EADDRINUSE
    return False


def busy_message(bind: str) -> str:
    """What to tell someone whose ``bind`` is taken: that it is, and how to pick another."""
    host, port = host_and_port(bind)
    free = next((other for other in range(port + 1, min(port + 1 + SUGGESTIONS, 65536))
                 if not in_use(_netloc(host, other))), port + 1)
    return (f"{bind} is already in use: another program listens on port {port}. Stop it, "
            f"or pick another port: make run PORT={free} (or integration-hub serve --bind "
            f"{_netloc(host, free)}, or HUB_BIND={_netloc(host, free)})")
