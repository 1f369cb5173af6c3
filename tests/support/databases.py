"""Real target databases for the database-integration tests: PostgreSQL, MariaDB/MySQL, SQLite.

Each target is made once per test session (see ``create_target``): its own database, a read-write
login user with a random password that creates and fills the seed tables itself (so it could
write, if the hub let it), and a second login user that may only read ``items``. Setup, checks
and teardown talk to the server directly (psycopg in autocommit, pymysql, sqlite3), never
through the hub.

``Target.snapshot()`` reads back everything a write could change (tables, rows, columns, the
sequence, for SQLite the file's bytes); ``Target.reseed()`` restores the seed after a test that
found a write getting through, so one application bug does not cascade into unrelated tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.support.workers import free_port, worker_name

POSTGRES_ADMIN_URL = os.environ.get("HUB_TEST_POSTGRES_URL",
                                    "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_ADMIN_URL = os.environ.get("HUB_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")

# (id, name, price, active, born, seen, payload, note)
ITEMS = [
    (1, "apple", Decimal("12.50"), True, date(2024, 1, 31), datetime(2024, 1, 31, 10, 20, 30),
     b"\x00\x01\xfehub\xff", None),
    (2, "banana", Decimal("0.99"), False, date(2023, 12, 1), datetime(2023, 12, 1, 8, 0, 0),
     b"", "ripe"),
    (3, "cherry", Decimal("100.00"), True, date(2024, 2, 29), datetime(2024, 2, 29, 23, 59, 59),
     b"cherry", "red"),
]
ITEM_COLUMNS = ["id", "name", "price", "active", "born", "seen", "payload", "note"]
PAYROLL = [(1, "mia", 5000), (2, "otto", 4000)]
NUMBERS = 12000  # numbers(x) holds 1..NUMBERS, for limits (MariaDB caps recursive CTEs at 1000 rows)
SEED_TABLES = ["items", "numbers", "payroll"]


class TargetUnavailable(RuntimeError):
    """The server for a target dialect cannot be reached."""


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (this worker's own, tests/support/
    workers.py: no other worker's server takes it while the test counts on it being closed)."""
    return free_port()


def _name() -> str:
    """A database and login name of its own: this worker's id and a random part."""
    return f"{worker_name('hubtest')}_{secrets.token_hex(4)}"


def _secret() -> str:
    return "pw-" + secrets.token_urlsafe(18)


@dataclass
class Target:
    dialect: str
    database: str                        # database name; for SQLite the file's absolute path
    username: str | None = None          # read-write owner
    password: str | None = None
    reader: str | None = None            # may SELECT items only
    reader_password: str | None = None
    host: str = "127.0.0.1"
    port: int | None = None
    seed_snapshot: Any = field(default=None, repr=False)

    # -- how the hub is told about it --------------------------------------------------------
    def data(self, **overrides: Any) -> dict[str, Any]:
        if self.dialect == "sqlite":
            return {"path": self.database, **overrides}
        return {"host": self.host, "port": self.port, "database": self.database,
                "username": self.username, **overrides}

    def integration_values(self, **overrides: Any) -> dict[str, Any]:
        """``make_integration``-style values for a shared integration of the catalogue type."""
        values: dict[str, Any] = {"type": self.dialect, "auth_type": "none", "mode": "shared",
                                  "api_base_uri": None, "data": self.data()}
        if self.password:
            values["credentials"] = {"password": self.password}
        values.update(overrides)
        return values

    # -- direct access, for arranging and checking -------------------------------------------
    def fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def tables(self) -> list[str]:
        raise NotImplementedError

    def run_as_owner(self, *statements: str) -> None:
        """Statements as the read-write owner, for a test's own arrangement (then ``reseed``)."""
        raise NotImplementedError

    def objects(self) -> list[tuple]:
        """Tables, views, indexes, sequences... of the database (or its default schema)."""
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        """Everything a write through the hub could have changed."""
        state: dict[str, Any] = {"objects": self.objects()}
        try:
            state["numbers"] = self.fetch("SELECT count(*), min(x), max(x) FROM numbers")
        except Exception as exc:
            state["numbers"] = f"unreadable: {exc}"
        for table in ("items", "payroll"):
            try:
                state[table] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                                for row in self.fetch(f"SELECT * FROM {table} ORDER BY id")]
            except Exception as exc:  # a dropped table shows as a difference, not a crash
                state[table] = f"unreadable: {exc}"
        state.update(self._extra_state())
        return state

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def reseed(self) -> None:
        raise NotImplementedError

    def drop(self) -> None:
        raise NotImplementedError

    def sessions_of(self, username: str) -> int:
        """How many server sessions ``username`` has open to this database (not SQLite)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def temporary_user(self) -> Iterator[tuple[str, str]]:
        """A fresh login user that may read everything; dropped afterwards."""
        raise NotImplementedError
        yield  # pragma: no cover


# -- PostgreSQL ---------------------------------------------------------------------------------

def _pg_admin(database: str | None = None):
    import psycopg

    url = POSTGRES_ADMIN_URL
    if database:
        url = url.rpartition("/")[0] + "/" + database
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        raise TargetUnavailable(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}") from None


class PostgresTarget(Target):
    _owner_conn = None

    @classmethod
    def create(cls) -> PostgresTarget:
        from psycopg import sql

        name = _name()
        parts = urlsplit(POSTGRES_ADMIN_URL)
        target = cls("postgresql", name, name, _secret(), f"{name}_ro", _secret(),
                     host=parts.hostname or "127.0.0.1", port=parts.port or 5432)
        with _pg_admin() as admin:
            for role, password in ((target.username, target.password),
                                   (target.reader, target.reader_password)):
                admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)))
            admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(target.database), sql.Identifier(target.username)))
        target.reseed()
        return target

    def _owner(self):
        """A connection as the read-write owner role itself (autocommit)."""
        import psycopg

        if self._owner_conn is None or self._owner_conn.closed:
            self._owner_conn = psycopg.connect(
                host=self.host, port=self.port, dbname=self.database, user=self.username,
                password=self.password, autocommit=True, connect_timeout=3)
        return self._owner_conn

    def fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self._owner().execute(sql, params or None).fetchall()

    def run_as_owner(self, *statements: str) -> None:
        for statement in statements:
            self._owner().execute(statement)

    def tables(self) -> list[str]:
        return [r[0] for r in self.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "ORDER BY table_name")]

    def objects(self) -> list[tuple]:
        return self.fetch(
            "SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1, 2")

    def _extra_state(self) -> dict[str, Any]:
        try:
            return {"ticket_seq": self.fetch("SELECT last_value, is_called FROM ticket_seq")}
        except Exception as exc:
            return {"ticket_seq": f"unreadable: {exc}"}

    def reseed(self) -> None:
        owner = self._owner()
        for statement in (
            "DROP TABLE IF EXISTS items, numbers, payroll, hub_evil CASCADE",
            "DROP SEQUENCE IF EXISTS ticket_seq",
            "CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, price numeric(10, 2),"
            " active boolean, born date, seen timestamp, payload bytea, note text)",
            "CREATE TABLE payroll (id integer PRIMARY KEY, name text NOT NULL, salary integer)",
            "CREATE TABLE numbers (x integer NOT NULL)",
            f"INSERT INTO numbers SELECT generate_series(1, {NUMBERS})",
            "CREATE SEQUENCE ticket_seq",
            f'GRANT SELECT ON items TO "{self.reader}"',
        ):
            owner.execute(statement)
        with owner.cursor() as cursor:
            cursor.executemany("INSERT INTO items VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", ITEMS)
            cursor.executemany("INSERT INTO payroll VALUES (%s, %s, %s)", PAYROLL)
        self.seed_snapshot = self.snapshot()

    def sessions_of(self, username: str) -> int:
        with _pg_admin() as admin:
            return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s "
                                 "AND datname = %s", (username, self.database)).fetchone()[0]

    def running(self, marker: str) -> int:
        """Active statements on this database (of anyone but us) whose text contains ``marker``
        (this database only: another worker's target may run the same statement)."""
        with _pg_admin() as admin:
            return admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND pid <> pg_backend_pid() AND datname = %s AND query LIKE %s",
                (self.database, f"%{marker}%")).fetchone()[0]

    @contextlib.contextmanager
    def temporary_user(self) -> Iterator[tuple[str, str]]:
        from psycopg import sql

        name, password = f"{self.username}_tmp{secrets.token_hex(2)}", _secret()
        with _pg_admin() as admin:
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(password)))
        self._owner().execute(sql.SQL("GRANT SELECT ON items, payroll TO {}").format(
            sql.Identifier(name)))
        try:
            yield name, password
        finally:
            with _pg_admin() as admin:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE usename = %s", (name,))
            with _pg_admin(self.database) as admin:
                admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            with _pg_admin() as admin:
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))

    def drop(self) -> None:
        from psycopg import sql

        if self._owner_conn is not None:
            self._owner_conn.close()
        with _pg_admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(self.database)))
            for role in (self.username, self.reader):
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE usename = %s", (role,))
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


# -- MariaDB / MySQL ----------------------------------------------------------------------------

def _mysql_params() -> dict[str, Any]:
    parts = urlsplit(MYSQL_ADMIN_URL)
    return {"host": parts.hostname or "127.0.0.1", "port": parts.port or 3306,
            "user": unquote(parts.username or "root"), "password": unquote(parts.password or "")}


def _mysql_admin():
    import pymysql

    try:
        return pymysql.connect(**_mysql_params(), autocommit=True, connect_timeout=3)
    except pymysql.err.OperationalError as exc:
        raise TargetUnavailable(f"MariaDB/MySQL is not reachable at {MYSQL_ADMIN_URL}: {exc}") from None


MYSQL_HOSTS = ("127.0.0.1", "localhost")


class MysqlTarget(Target):
    _owner_conn = None

    @classmethod
    def create(cls) -> MysqlTarget:
        name = _name()
        params = _mysql_params()
        target = cls("mysql", name, name, _secret(), f"{name}_ro", _secret(),
                     host=params["host"], port=params["port"])
        admin = _mysql_admin()
        with admin, admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{target.database}`")
            for user, password in ((target.username, target.password),
                                   (target.reader, target.reader_password)):
                for host in MYSQL_HOSTS:
                    cursor.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY %s", (password,))
            for host in MYSQL_HOSTS:
                cursor.execute(f"GRANT ALL ON `{target.database}`.* TO '{target.username}'@'{host}'")
        target.reseed()
        return target

    def _owner(self):
        import pymysql

        if self._owner_conn is None or not self._owner_conn.open:
            self._owner_conn = pymysql.connect(
                host=self.host, port=self.port, user=self.username, password=self.password,
                database=self.database, autocommit=True, connect_timeout=3)
        return self._owner_conn

    def fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._owner().cursor() as cursor:
            cursor.execute(sql, params or None)
            return list(cursor.fetchall())

    def run_as_owner(self, *statements: str) -> None:
        with self._owner().cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    def tables(self) -> list[str]:
        return [r[0] for r in self.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "ORDER BY table_name", (self.database,))]

    def objects(self) -> list[tuple]:
        return self.fetch(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = %s "
            "ORDER BY 1, 2", (self.database,)) + self.fetch(
            "SELECT index_name, table_name FROM information_schema.statistics "
            "WHERE table_schema = %s ORDER BY 1, 2", (self.database,))

    def _extra_state(self) -> dict[str, Any]:
        try:
            return {"item_columns": [r[0] for r in self.fetch("SHOW COLUMNS FROM items")]}
        except Exception as exc:
            return {"item_columns": f"unreadable: {exc}"}

    def reseed(self) -> None:
        with self._owner().cursor() as cursor:
            for statement in (
                "DROP TABLE IF EXISTS items, numbers, payroll, hub_evil",
                "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL,"
                " price DECIMAL(10, 2), active BOOLEAN, born DATE, seen DATETIME, payload BLOB,"
                " note VARCHAR(50))",
                "CREATE TABLE payroll (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, salary INT)",
                "CREATE TABLE numbers (x INT NOT NULL)",
            ):
                cursor.execute(statement)
            cursor.executemany("INSERT INTO items VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", ITEMS)
            cursor.executemany("INSERT INTO payroll VALUES (%s, %s, %s)", PAYROLL)
            cursor.executemany("INSERT INTO numbers VALUES (%s)", [(x,) for x in range(1, NUMBERS + 1)])
        admin = _mysql_admin()
        with admin, admin.cursor() as cursor:
            for host in MYSQL_HOSTS:
                cursor.execute(f"GRANT SELECT ON `{self.database}`.`items` TO '{self.reader}'@'{host}'")
        self.seed_snapshot = self.snapshot()

    def sessions_of(self, username: str) -> int:
        admin = _mysql_admin()
        with admin, admin.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM information_schema.processlist WHERE user = %s",
                           (username,))
            return cursor.fetchone()[0]

    def running(self, marker: str) -> int:
        """Statements on this database (of anyone but us) still executing whose text contains
        ``marker`` (this database only: another worker's target may run the same statement)."""
        admin = _mysql_admin()
        with admin, admin.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM information_schema.processlist WHERE id <> "
                           "connection_id() AND command = 'Query' AND db = %s AND info LIKE %s",
                           (self.database, f"%{marker}%"))
            return cursor.fetchone()[0]

    @contextlib.contextmanager
    def temporary_user(self) -> Iterator[tuple[str, str]]:
        name, password = f"{self.username}_tmp{secrets.token_hex(2)}", _secret()
        admin = _mysql_admin()
        with admin, admin.cursor() as cursor:
            for host in MYSQL_HOSTS:
                cursor.execute(f"CREATE USER '{name}'@'{host}' IDENTIFIED BY %s", (password,))
                cursor.execute(f"GRANT SELECT ON `{self.database}`.* TO '{name}'@'{host}'")
        try:
            yield name, password
        finally:
            self._drop_users(name)

    def _drop_users(self, *names: str) -> None:
        admin = _mysql_admin()
        with admin, admin.cursor() as cursor:
            for name in names:
                cursor.execute("SELECT id FROM information_schema.processlist WHERE user = %s",
                               (name,))
                for (pid,) in cursor.fetchall():
                    with contextlib.suppress(Exception):
                        cursor.execute(f"KILL {int(pid)}")
                for host in MYSQL_HOSTS:
                    cursor.execute(f"DROP USER IF EXISTS '{name}'@'{host}'")

    def drop(self) -> None:
        if self._owner_conn is not None and self._owner_conn.open:
            self._owner_conn.close()
        admin = _mysql_admin()
        with admin, admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{self.database}`")
        self._drop_users(self.username, self.reader)


# -- SQLite -------------------------------------------------------------------------------------

class SqliteTarget(Target):
    @classmethod
    def create(cls, root: Path) -> SqliteTarget:
        target = cls("sqlite", str(root / "target.db"))
        target.reseed()
        return target

    def fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        # mode=ro here too: checking must not touch the file it checks
        with contextlib.closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)) as db:
            return db.execute(sql, params).fetchall()

    def tables(self) -> list[str]:
        return [r[0] for r in self.fetch(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]

    def run_as_owner(self, *statements: str) -> None:
        with contextlib.closing(sqlite3.connect(self.database)) as db, db:
            for statement in statements:
                db.execute(statement)

    def objects(self) -> list[tuple]:
        return self.fetch("SELECT type, name FROM sqlite_master ORDER BY 2, 1")

    def _extra_state(self) -> dict[str, Any]:
        path = Path(self.database)
        return {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "mtime_ns": path.stat().st_mtime_ns,
                "siblings": sorted(p.name for p in path.parent.glob(path.name + "*"))}

    def reseed(self) -> None:
        path = Path(self.database)
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            db.execute("CREATE TABLE items (id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL,"
                       " price NUMERIC, active BOOLEAN, born DATE, seen TIMESTAMP, payload BLOB,"
                       " note TEXT)")
            db.execute("CREATE TABLE payroll (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                       " salary INTEGER)")
            db.execute("CREATE TABLE numbers (x INTEGER NOT NULL)")
            db.executemany("INSERT INTO numbers VALUES (?)", [(x,) for x in range(1, NUMBERS + 1)])
            db.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
                (i, n, str(p), int(a), b.isoformat(), s.isoformat(sep=" "), pl, note)
                for i, n, p, a, b, s, pl, note in ITEMS])
            db.executemany("INSERT INTO payroll VALUES (?, ?, ?)", PAYROLL)
        self.seed_snapshot = self.snapshot()

    def drop(self) -> None:
        path = Path(self.database)
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()


def create_target(dialect: str, sqlite_root: Path) -> Target:
    """A seeded target of ``dialect``; raises TargetUnavailable when its server is not there."""
    if dialect == "postgresql":
        return PostgresTarget.create()
    if dialect == "mysql":
        return MysqlTarget.create()
    return SqliteTarget.create(sqlite_root)


def make_sqlite_file(path: Path, rows: list[tuple[str]]) -> Path:
    """A small SQLite file with one table ``vault(secret)``."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE vault (secret TEXT)")
        db.executemany("INSERT INTO vault VALUES (?)", rows)
    return path
