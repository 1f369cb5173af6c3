"""Where a PostgreSQL or MySQL/MariaDB integration may connect, and what it must log in with.

The database drivers fill every gap from the hub's own machine: libpq takes a host starting
with ``/`` or ``@`` as a unix socket (where the server may trust the hub's OS user), a list
``a,b`` as several servers, and a missing user, password or database from ``PG*`` variables,
``~/.pgpass`` or a service file; PyMySQL logs in as the hub's OS user when none is given. So
an integration names a server by host name or IP address only, and brings its own user,
password and database (checked when it is saved and again when it is used); the driver gets
explicit values for everything that matters (databases/drivers.py).

Each new connection resolves the host once (``Guard.addresses``). With
``HUB_PROXY_DENY_PRIVATE`` on, any address that is not global unicast refuses it, as for
HTTP (outbound/policy.py); the driver is then given the checked addresses, never the name to
look up again, so DNS rebinding cannot swap them. Whatever the policy, the hub's own database
is never a target: same server and port (and, on PostgreSQL, same database name).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url

from integration_hub import errors
from integration_hub.outbound.policy import address_denied

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
# A last label of digits or hex: inet_aton's shorthand (2130706433, 127.1, 0x7f.1), not a name.
_NUMERIC = re.compile(r"[0-9]+|0x[0-9a-f]*", re.IGNORECASE)
_LOCAL_NAMES = ("localhost", "localhost.")


class DatabaseHostNotAllowed(errors.ValidationFailed):
    code, title = "database_host_not_allowed", "The hub does not connect to this database host"


class DatabaseLoginIncomplete(errors.ValidationFailed):
    code = "database_login_incomplete"
    title = "The integration must give the database user, password and name"


class DatabaseAddressDenied(errors.Forbidden):
    code, title = "database_address_denied", "The database host resolves to a private address"


class HubDatabaseRefused(errors.ValidationFailed):
    code, title = "database_is_hub_database", "The hub's own database is not an integration"


class DatabaseHostUnknown(errors.HubError):
    status, code, title = 502, "database_unreachable", "The database could not be reached"


# -- pure rules ----------------------------------------------------------------------------------

def host_problem(host: Any) -> str | None:
    """Why ``host`` is not a host name or IP address the hub connects to over TCP."""
    if not isinstance(host, str) or not host.strip():
        return "must name the database server: a host name or IP address"
    if host[0] in "/@":
        return ("must be a host name or IP address, not a socket: the hub connects to "
                "databases over TCP only")
    if literal(host) is not None:
        return None
    if "%" in host or ":" in host:
        return "must be a host name or an IP address without a zone or brackets"
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return ("must be one host name (letters, digits, '-', '_' and '.') or an IP address, "
                "nothing else")
    if _NUMERIC.fullmatch(labels[-1]):
        return "must be a host name or an IP address written out in full"
    return None


def literal(host: str) -> str | None:
    """The address ``host`` is, when it is an IP address (no zone), else None."""
    if "%" in host:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def port_of(dialect: str, port: Any) -> int | None:
    """The TCP port to use (the dialect's default when none is given), or None if invalid."""
    if port is None or port == "":
        return DEFAULT_PORTS[dialect]
    if isinstance(port, bool) or not isinstance(port, int | str):
        return None
    text = str(port).strip()
    return int(text) if text.isdigit() and 1 <= int(text) <= 65535 else None


def server_problems(dialect: str, data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Why ``data.host``/``data.port`` do not name a server the hub connects to."""
    found: dict[str, list[str]] = {}
    if problem := host_problem(data.get("host")):
        found["data.host"] = [problem]
    if port_of(dialect, data.get("port")) is None:
        found["data.port"] = ["must be a whole number from 1 to 65535"]
    return found


def login_problems(database: Any, username: Any, password: Any) -> dict[str, list[str]]:
    """What is missing to log in without the driver filling it from the hub's machine."""
    found: dict[str, list[str]] = {}
    for key, value, what in (("data.database", database, "the database's name"),
                             ("username", username, "the database user"),
                             ("password", password, "the database user's password")):
        if not isinstance(value, str) or not value:
            found[key] = [f"must give {what}; the hub never takes it from its own machine"]
    return found


def require_server(dialect: str, data: Mapping[str, Any]) -> tuple[str, int]:
    """(host, port) of ``data``; raises DatabaseHostNotAllowed naming what is wrong."""
    if found := server_problems(dialect, data):
        raise DatabaseHostNotAllowed("the database server: " + "; ".join(
            f"{key} {reasons[0]}" for key, reasons in sorted(found.items())), errors=found)
    return data["host"], port_of(dialect, data.get("port"))


def require_login(database: Any, username: Any, password: Any) -> None:
    if found := login_problems(database, username, password):
        raise DatabaseLoginIncomplete("the integration must give " + ", ".join(sorted(found))
                                      + " (the hub never uses its own)", errors=found)


def reaches_this_machine(addresses: Iterable[str]) -> bool:
    """Loopback or unspecified (0.0.0.0 connects to this machine), also inside IPv6."""
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        ip = getattr(ip, "ipv4_mapped", None) or ip
        if ip.is_loopback or ip.is_unspecified:
            return True
    return False


# -- the hub's own database, and the checks of a new connection --------------------------------

@dataclass(frozen=True)
class HubDatabase:
    """Where the hub's own database is (no credentials kept)."""
    dialect: str
    host: str | None  # None: a unix socket, so on this machine
    port: int
    database: str

    @classmethod
    def of(cls, database_url: str) -> HubDatabase | None:
        url = make_url(database_url)
        dialect = url.get_backend_name()
        if dialect not in DEFAULT_PORTS:
            return None
        host = url.host or url.query.get("host")
        host = None if not isinstance(host, str) or host.startswith("/") else host
        return cls(dialect, host, url.port or DEFAULT_PORTS[dialect], url.database or "")

    def is_target(self, dialect: str, host: str, port: int, database: str | None,
                  addresses: Iterable[str]) -> bool:
        """A MySQL account reaches every database of its server, a PostgreSQL session only
        the one it names: so MySQL compares the server, PostgreSQL the database too."""
        if dialect != self.dialect or port != self.port:
            return False
        if dialect == "postgresql" and database != self.database:
            return False
        addresses = set(addresses)
        if self.host is not None and host.lower().rstrip(".") == self.host.lower().rstrip("."):
            return True
        own = set(_resolve(self.host, port, quiet=True)) if self.host else set()
        if self.host is None or reaches_this_machine(own):
            own |= _this_machine(port)
            if reaches_this_machine(addresses):
                return True
        return bool(addresses & own)


@dataclass(frozen=True)
class Guard:
    """What a new database connection is checked against (hashable: part of a pool's key)."""
    deny_private: bool = False
    hub: HubDatabase | None = None

    @classmethod
    def of(cls, settings) -> Guard:
        return cls(settings.proxy_deny_private, HubDatabase.of(settings.database_url))

    def check_saved(self, dialect: str, data: Mapping[str, Any]) -> None:
        """On save, without looking names up: the server's form, a denied address literal,
        and the hub's own database named by address or ``localhost``."""
        host, port = require_server(dialect, data)
        if host.lower() in _LOCAL_NAMES:
            addresses = ["127.0.0.1", "::1"]
        else:
            addresses = [address] if (address := literal(host)) else []
        if self.deny_private and any(address_denied(a) for a in addresses):
            raise DatabaseHostNotAllowed(
                "data.host is a private, loopback or link-local address, and "
                "HUB_PROXY_DENY_PRIVATE is on", errors={"data.host": [
                    "is a private, loopback or link-local address (HUB_PROXY_DENY_PRIVATE)"]})
        self._refuse_hub(dialect, host, port, data.get("database"), addresses)

    def addresses(self, dialect: str, host: str, port: int, database: str | None) -> list[str]:
        """The addresses a new connection may go to, resolved once and checked."""
        addresses = _resolve(host, port)
        if self.deny_private and any(address_denied(a) for a in addresses):
            raise DatabaseAddressDenied("the database's address is private, loopback or "
                                        "link-local, and HUB_PROXY_DENY_PRIVATE is on")
        self._refuse_hub(dialect, host, port, database, addresses)
        return addresses

    def _refuse_hub(self, dialect, host, port, database, addresses) -> None:
        if self.hub and self.hub.is_target(dialect, host, port, database, addresses):
            what = "server and database" if dialect == "postgresql" else "server"
            raise HubDatabaseRefused(
                f"this is the hub's own database {what}; the hub's database is never an "
                "integration", errors={"data.host": ["names the hub's own database"]})


def _resolve(host: str, port: int, quiet: bool = False) -> list[str]:
    """Every address ``host`` answers, in the resolver's order (TCP)."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        if quiet:
            return []
        raise DatabaseHostUnknown(f"the database host {host} could not be resolved") from None
    return list(dict.fromkeys(sockaddr[0] for *_, sockaddr in answers))


def _this_machine(port: int) -> set[str]:
    """This machine's addresses as its host name answers them (a server listening on every
    interface is reached through them too)."""
    return set(_resolve(socket.gethostname(), port, quiet=True))
