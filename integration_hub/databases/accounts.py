"""Is a database account fit for the hub? Only a least-privilege one is.

A read-only transaction stops writes to tables, not what a powerful account does besides:
a PostgreSQL superuser, or a member of ``pg_execute_server_program`` /
``pg_read_server_files`` / ``pg_write_server_files``, runs programs and reads or writes files
on the database's machine with ``COPY ... TO PROGRAM`` / ``COPY ... TO 'file'``; a MySQL or
MariaDB account with ``FILE`` writes files with ``SELECT ... INTO OUTFILE``, one with
``SUPER`` may change the server itself. The hub refuses such accounts with 422
``database_account_too_powerful`` before anything else runs on their connection.

On MySQL/MariaDB the global privileges (``ON *.*``) are an allow-list, not a list of known
dangers: each version adds privileges (MySQL 8's dynamic ``*_ADMIN`` ones, MariaDB's split of
``SUPER`` into ``BINLOG ADMIN``, ``SET USER``, ``CONNECTION ADMIN``...), and a new one is
refused until someone decides it only reads.

What counts is what the account may *become*: PostgreSQL memberships (direct or through other
roles, ``SET ROLE`` included), and every MySQL role the account may switch to, not only the
active one. The check runs on every new connection of the pool (see docs/decisions.md) and
on every ``POST .../test``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, event

from integration_hub import errors

SERVER_POWERS = ("pg_execute_server_program", "pg_read_server_files", "pg_write_server_files")
MYSQL_POWERS = ("FILE", "SUPER")  # named first when refused: the worst of them
# The only global privileges a MySQL/MariaDB account of the hub may hold: reading and listing.
MYSQL_READ_ONLY = frozenset({"USAGE", "SELECT", "SHOW VIEW", "SHOW DATABASES"})
_MYSQL_ALL = frozenset({"ALL", "ALL PRIVILEGES"})

# Superuser roles and server-access roles the session's account may use, with
# (name, is superuser, is the account itself).
_PG_POWERS_QUERY = (
    "SELECT r.rolname, r.rolsuper, r.rolname = session_user FROM pg_roles r "
    "WHERE (r.rolsuper OR r.rolname IN ('pg_execute_server_program', 'pg_read_server_files', "
    "'pg_write_server_files')) AND pg_has_role(session_user, r.oid, 'MEMBER') ORDER BY 1")
_GLOBAL_GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON \*\.\* TO ", re.IGNORECASE)


class DatabaseAccountTooPowerful(errors.ValidationFailed):
    code = "database_account_too_powerful"
    title = "The database account may do more than read"


# -- pure verdicts -------------------------------------------------------------------------------

def postgres_powers(rows: Iterable[tuple[str, bool, bool]]) -> list[str]:
    """Reasons to refuse, from ``_PG_POWERS_QUERY``'s rows."""
    rows = list(rows)
    if any(itself and superuser for _, superuser, itself in rows):
        return ["it is a superuser"]
    reasons = [f"it is a member of the superuser role {name}"
               for name, superuser, _ in rows if superuser]
    reasons += [f"it is a member of {name}" for name, superuser, _ in rows
                if not superuser and name in SERVER_POWERS]
    return reasons


def mysql_powers(grants: Iterable[str]) -> list[str]:
    """Reasons to refuse, from ``SHOW GRANTS`` lines: any global privilege outside
    ``MYSQL_READ_ONLY``, ``ALL PRIVILEGES``, and the global ``GRANT OPTION``."""
    others: set[str] = set()
    everything = grant_option = False
    for line in grants:
        match = _GLOBAL_GRANT.match(line.strip())
        if not match:
            continue
        privileges = {" ".join(p.split()).upper() for p in match["privileges"].split(",")}
        everything |= bool(privileges & _MYSQL_ALL)
        others |= privileges - MYSQL_READ_ONLY - _MYSQL_ALL - {""}
        # What follows TO: the account, maybe IDENTIFIED BY ..., WITH GRANT OPTION, limits.
        grant_option |= "WITH GRANT OPTION" in " ".join(line[match.end():].upper().split())
    reasons = ["it holds ALL PRIVILEGES (FILE and SUPER among them)"] if everything else []
    reasons += [f"it holds the {name} privilege"
                for name in sorted(others, key=lambda name: (name not in MYSQL_POWERS, name))]
    if grant_option:
        reasons.append("it holds the GRANT OPTION (it may give its privileges to others)")
    return reasons


# -- asking the server ---------------------------------------------------------------------------

def require_least_privilege(engine: Engine, dbapi_connection: Any) -> None:
    """Raise DatabaseAccountTooPowerful when the connection's account may do more than read."""
    dialect = engine.dialect
    if dialect.name == "postgresql":
        with dbapi_connection.cursor() as cursor:
            cursor.execute(_PG_POWERS_QUERY)
            reasons = postgres_powers(cursor.fetchall())
    elif dialect.name == "mysql":
        reasons = mysql_powers(_mysql_grants(dbapi_connection, dialect.is_mariadb))
    else:
        return
    if reasons:
        raise DatabaseAccountTooPowerful(
            "the database account may do more than read: " + "; ".join(reasons)
            + ". Connect with a least-privilege account (see docs/security.md).")


def check_new_connections(engine: Engine) -> None:
    """Check every connection the engine opens, before it serves anything."""

    def check(dbapi_connection, _record) -> None:
        require_least_privilege(engine, dbapi_connection)
        dbapi_connection.rollback()  # hand the connection over without a transaction

    event.listen(engine, "connect", check)


def _mysql_grants(dbapi_connection, mariadb: bool) -> list[str]:
    """``SHOW GRANTS`` of the account, and of every role it may switch to."""
    with dbapi_connection.cursor() as cursor:
        lines = _show(cursor, "SHOW GRANTS")
        roles = _applicable_roles(cursor)
        if not roles:
            return lines
        if not mariadb:  # MySQL 8 shows a role's privileges with USING
            for name, host in roles:
                lines += _show(cursor, "SHOW GRANTS FOR CURRENT_USER() USING %s@%s", (name, host))
            return lines
        cursor.execute("SELECT CURRENT_ROLE()")
        active = cursor.fetchone()[0]
        try:
            for name, _ in roles:
                if _try(cursor, "SET ROLE " + _quoted(name)):  # nested roles come with it
                    lines += _show(cursor, "SHOW GRANTS")
        finally:
            cursor.execute("SET ROLE " + (_quoted(active) if active else "NONE"))
        return lines


def _applicable_roles(cursor) -> list[tuple[str, str]]:
    try:
        cursor.execute("SELECT * FROM information_schema.APPLICABLE_ROLES")
    except Exception as failure:  # noqa: BLE001 - no roles before MySQL 8 / MariaDB 10.0.5
        if _is_unknown_table(failure):
            return []
        raise
    names = [column[0].upper() for column in cursor.description]
    host = names.index("ROLE_HOST") if "ROLE_HOST" in names else None
    at = names.index("ROLE_NAME")
    return [(row[at], row[host] if host is not None else "") for row in cursor.fetchall()]


def _show(cursor, statement: str, args: tuple | None = None) -> list[str]:
    if args is None:
        cursor.execute(statement)
    elif not _try(cursor, statement, args):
        return []
    return [row[0] for row in cursor.fetchall()]


def _try(cursor, statement: str, args: tuple | None = None) -> bool:
    """False when the server refuses (a role not granted directly cannot be switched to)."""
    import pymysql

    try:
        cursor.execute(statement, args)
        return True
    except pymysql.err.MySQLError as refused:
        if not refused.args or not isinstance(refused.args[0], int) or refused.args[0] >= 2000:
            raise  # the client's own errors (2000 and up): the connection broke
        return False


def _is_unknown_table(failure: Exception) -> bool:
    return bool(getattr(failure, "args", None)) and failure.args[0] in (1109, 1146)


def _quoted(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"
