"""How the hub opens, bounds and hands back connections to PostgreSQL and MySQL/MariaDB.

Whatever an integration's (allow-listed) options say, the hub sets the rest:

- every wait on the network is bounded. libpq's ``connect_timeout`` covers the whole
  connection start, TCP keepalives and ``tcp_user_timeout`` notice a peer that went away
  mid-query. PyMySQL's ``connect_timeout`` covers only the TCP connect, so its read and write
  timeouts cover the handshake, and each query may wait its own timeout plus
  ``ANSWER_GRACE`` for the first byte of its answer. A server that takes the connection and
  then says nothing ends in 504 ``database_timeout`` instead of holding a worker forever.
- LOAD DATA LOCAL is off in PyMySQL (it would send the server any file the hub can read),
  and a server that asks anyway loses the connection: nothing is sent.
- nothing of the integration's runs as a session command (no ``init_command``,
  ``sql_mode`` or option files), and PostgreSQL sessions default to read-only.
- nothing of the hub's machine logs in: libpq's password file and client certificate point
  at nothing, GSSAPI encryption and (libpq 16 and later) GSSAPI/SSPI authentication are off,
  and the host, port, user, password and database are always given (databases/hosts.py), so
  no ``PG*`` variable, ``~/.pgpass``, ``~/.postgresql/postgresql.crt`` or Kerberos ticket
  of the hub's fills a gap.
- each new connection goes to the addresses ``database_hosts.Guard`` resolved and checked:
  libpq gets them as ``hostaddr`` (the name stays ``host``, for TLS), PyMySQL a socket
  already connected to one of them.
- a pooled MySQL connection goes back clean: ``COM_RESET_CONNECTION`` drops session
  variables, user variables, named locks (``GET_LOCK``) and temporary tables, then the
  hub's character set and autocommit are set again. One that cannot be reset is discarded.
  (PostgreSQL connections run ``DISCARD ALL``, see dbquery.)

The drivers are installed with the hub (setup.cfg). A hub whose driver is gone anyway (a
trimmed environment, a platform without its wheel) answers every call to such a database
with 501 ``database_driver_missing``, naming the driver and the extra that installs it,
before anything else is tried.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, event

from integration_hub import errors
from integration_hub.databases.hosts import Guard

log = logging.getLogger(__name__)

# dialect: (its name, the module the hub imports, its package, the hub's extra installing it)
DRIVERS = {"postgresql": ("PostgreSQL", "psycopg", "psycopg[binary]", "postgres"),
           "mysql": ("MySQL/MariaDB", "pymysql", "PyMySQL", "mysql")}
CONNECT_TIMEOUT = 10     # seconds, unless the integration's connect_timeout says otherwise
ANSWER_GRACE = 5         # seconds a MySQL server may take beyond a query's own timeout
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 30, 10, 3
UNACKNOWLEDGED_MS = 30_000  # tcp_user_timeout: data the peer never acknowledges
POSTGRES_SESSION = "-c default_transaction_read_only=on"
# A path that cannot exist (its parent is not a directory): libpq skips a missing file.
NOTHING = os.path.join(os.devnull, "none")
# Connect keywords that read files or run statements: never given to PyMySQL.
_MYSQL_NEVER = ("init_command", "sql_mode", "read_default_file", "read_default_group",
                "unix_socket", "bind_address", "defer_connect", "autocommit")


class DatabaseTimeout(errors.HubError):
    status, code, title = 504, "database_timeout", "The database did not answer in time"


class DatabaseDriverMissing(errors.HubError):
    """The hub cannot load the driver of the integration's database: a fault of the hub's
    installation, not of the request or the database (``driver`` and ``extra`` name it)."""
    status, code, title = 501, "database_driver_missing", "The hub has no driver for this database"


def require_driver(dialect: str) -> None:
    """501 ``database_driver_missing`` when the driver of ``dialect`` cannot be imported."""
    if dialect not in DRIVERS:
        return  # SQLite: the standard library's
    name, module, package, extra = DRIVERS[dialect]
    try:
        importlib.import_module(module)
    except ImportError as missing:
        log.warning("the %s driver %s cannot be imported: %s", name, module, missing)
        raise DatabaseDriverMissing(
            f"the hub cannot connect to {name}: its driver {module} is not installed (or "
            f"cannot be loaded). Install the hub with its {extra!r} extra (pip install "
            f"'integration-hub[{extra}]', or pip install '{package}') and restart it",
            driver=module, extra=extra, package=package) from None


def connect_args(backend: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The driver's keyword arguments: the integration's allowed options, then the hub's own."""
    timeout = options.get("connect_timeout", CONNECT_TIMEOUT)
    if backend == "postgresql":
        # UTF8 unless the options say so (in UTF-8 too): never PGCLIENTENCODING's choice.
        return {"client_encoding": "UTF8", **options, "connect_timeout": timeout,
                "options": POSTGRES_SESSION,
                "keepalives": 1, "keepalives_idle": KEEPALIVE_IDLE,
                "keepalives_interval": KEEPALIVE_INTERVAL, "keepalives_count": KEEPALIVE_COUNT,
                "tcp_user_timeout": UNACKNOWLEDGED_MS, **postgres_without_the_hubs_login()}
    if backend == "mysql":
        return {**options, "connect_timeout": timeout, "read_timeout": timeout,
                "write_timeout": timeout, "local_infile": False}
    return dict(options)


def postgres_without_the_hubs_login() -> dict[str, str]:
    """libpq parameters that keep it from logging in with what the hub's machine holds."""
    found = {"passfile": NOTHING, "sslcert": NOTHING, "sslkey": NOTHING,
             "gssencmode": "disable"}
    if _libpq_version() >= 160000:  # both parameters are new in libpq 16
        found |= {"sslcertmode": "disable", "require_auth": "!gss,!sspi"}
    return found


def _libpq_version() -> int:
    import psycopg

    return psycopg.pq.version()


def prepare(engine: Engine, guard: Guard) -> None:
    """Connect each new connection to the addresses ``guard`` checked; open MySQL
    connections as ``HubMysqlConnection`` (databases/pymysql_connection.py) and reset them when they
    go back to the pool."""
    if engine.dialect.name == "postgresql":
        event.listen(engine, "do_connect", _pinned_postgres(guard))
    elif engine.dialect.name == "mysql":
        event.listen(engine, "do_connect", _pinned_mysql(guard))
        event.listen(engine.pool, "reset", _reset_mysql)


def _pinned_postgres(guard: Guard):
    def connect(_dialect, _record, _cargs, cparams) -> None:
        host, port = cparams["host"], int(cparams.get("port") or 5432)
        addresses = guard.addresses("postgresql", host, port, cparams.get("dbname"))
        # One host entry per address: libpq tries them in order, as it would the name's.
        cparams.update(host=",".join([host] * len(addresses)), hostaddr=",".join(addresses),
                       port=str(port))
    return connect


def _pinned_mysql(guard: Guard):
    def connect(_dialect, _record, cargs, cparams):
        from pymysql.constants import CLIENT

        from integration_hub.databases.pymysql_connection import HubMysqlConnection

        for name in _MYSQL_NEVER:
            cparams.pop(name, None)
        cparams["local_infile"] = False
        cparams["client_flag"] = (cparams.get("client_flag", 0)
                                  & ~(CLIENT.LOCAL_FILES | CLIENT.MULTI_STATEMENTS))
        port = int(cparams.get("port") or 3306)
        addresses = guard.addresses("mysql", cparams["host"], port, cparams.get("database"))
        return HubMysqlConnection(*cargs, hub_addresses=addresses, **cparams)
    return connect


def _reset_mysql(dbapi_connection, _record, reset_state) -> None:
    """Raising here makes the pool discard the connection instead of keeping it."""
    if dbapi_connection is not None and not reset_state.terminate_only:
        dbapi_connection.reset_session()


def expect_answer_within(dbapi_connection, timeout_ms: int) -> None:
    """A MySQL query may wait its own timeout plus the grace for its answer."""
    if hasattr(dbapi_connection, "answer_timeout"):
        dbapi_connection.answer_timeout(timeout_ms / 1000 + ANSWER_GRACE)
