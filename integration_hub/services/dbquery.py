"""Database integrations (SPEC §7): read-only queries, schema, connection test.

Read-only is enforced by each database, never by reading the SQL: SQLite opens
the file with ``mode=ro`` and an authorizer (sqlite_files.py), PostgreSQL runs a READ
ONLY transaction with a ``statement_timeout``, MySQL/MariaDB a READ ONLY transaction
with ``max_execution_time`` / ``max_statement_time``. Rows are read in batches up to a
row limit and a byte cap (query_rows.py). Engines are pooled per integration (a bounded
number) and disposed when the integration changes; SQLite files are opened per query.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from integration_hub import errors, json_body
from integration_hub.db.models import Integration, User
from integration_hub.services import (
    connections,
    crypto,
    database_accounts,
    database_drivers,
    database_options,
    query_rows,
    sql_params,
    sqlite_files,
)
from integration_hub.services.acl import Access, require
from integration_hub.services.integrations import Found
from integration_hub.services.sqlite_files import SqliteFiles

DIALECTS = ("postgresql", "mysql", "sqlite")
MAX_ENGINES = 32
DEFAULT_LIMIT, MAX_LIMIT = 1000, 10000
DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS = 30_000, 300_000


class NotADatabase(errors.Conflict):
    code, title = "not_a_database", "This integration is not a database"


class QueryNotReadOnly(errors.ValidationFailed):
    code, title = "query_not_read_only", "Queries through the hub are read-only"


class QueryFailed(errors.ValidationFailed):
    code, title = "query_failed", "The database refused the query"


class QueryTimeout(errors.HubError):
    status, code, title = 504, "query_timeout", "The query took too long"


class DatabaseUnavailable(errors.HubError):
    status, code, title = 502, "database_unavailable", "The database could not be reached"




@dataclass(frozen=True)
class QueryResult:
    columns: list[dict[str, str]]
    rows: list[list[Any]]
    truncated: bool


def dialect_of(integration: Integration) -> str | None:
    if integration.type in DIALECTS:
        return integration.type
    if integration.type == "database" or integration.category == "database":
        dialect = (integration.data or {}).get("dialect")
        return dialect if dialect in DIALECTS else None
    return None


def is_database(integration: Integration) -> bool:
    return dialect_of(integration) is not None


def _credentials(session: Session, user: User, integration: Integration) -> tuple[str | None, str | None]:
    """(username, password): the caller's own (per-user mode) or the integration's."""
    data = integration.data or {}
    if integration.mode == "per-user":
        own = connections.credentials_of(connections.connection_of(session, user, integration))
        if not own:
            raise connections.NotConnected("connect with your database username and password")
        return own.get("username"), own.get("password")
    stored = crypto.decrypt(integration.credentials_encrypted)
    secrets = json.loads(stored) if stored else {}
    return secrets.get("username") or data.get("username"), secrets.get("password")


def database_url(integration: Integration, username: str | None, password: str | None,
                 sqlite: SqliteFiles) -> URL:
    data = integration.data or {}
    dialect = dialect_of(integration)
    if dialect == "sqlite":
        return sqlite.url(str(data.get("path") or ""))
    driver = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}[dialect]
    options = data.get("options")
    if dialect == "postgresql" and data.get("sslmode") and isinstance(options or {}, dict):
        options = {**(options or {}), "sslmode": data["sslmode"]}
    # Checked again here, not only on save: rows stored before the allow-list existed.
    query = {name: database_options.as_text(value)
             for name, value in database_options.read(dialect, options).items()}
    return URL.create(driver, username=username, password=password, host=data.get("host"),
                      port=data.get("port"), database=data.get("database"), query=query)


class EnginePool:
    """At most ``MAX_ENGINES`` engines, least recently used first out."""

    def __init__(self) -> None:
        self._engines: OrderedDict[tuple, Engine] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, url: URL) -> Engine:
        with self._lock:
            engine = self._engines.pop(key, None)
            if engine is None:
                engine = _make_engine(url)
            self._engines[key] = engine
            while len(self._engines) > MAX_ENGINES:
                _, old = self._engines.popitem(last=False)
                old.dispose()
            return engine

    def forget(self, integration_id: str) -> None:
        with self._lock:
            for key in [k for k in self._engines if k[0] == integration_id]:
                self._engines.pop(key).dispose()


ENGINES = EnginePool()


def _make_engine(url: URL) -> Engine:
    backend = url.get_backend_name()
    # The options travel in the URL's query; the driver gets them as typed arguments.
    options = database_options.read(backend, dict(url.query))
    # The query chooses how deep its JSON nests: psycopg's own loader would raise
    # RecursionError; the hub's gives what is too deep back as text (json_body.py).
    engine = create_engine(url.set(query={}), hide_parameters=True, pool_size=2, max_overflow=4,
                           pool_pre_ping=True, pool_recycle=1800,
                           json_deserializer=json_body.read_stored,
                           connect_args=database_drivers.connect_args(backend, options))
    database_drivers.prepare(engine)
    database_accounts.check_new_connections(engine)
    if backend == "postgresql":
        event.listen(engine, "checkin", _postgres_forget_session)
    return engine


def _postgres_forget_session(dbapi_connection, _record) -> None:
    """A pooled connection goes back clean: no SET ROLE or settings survive a query."""
    try:
        dbapi_connection.rollback()
        dbapi_connection.autocommit = True
        dbapi_connection.execute("DISCARD ALL")
    except Exception:  # noqa: BLE001 - a broken connection is discarded by the pool anyway
        pass
    finally:
        try:
            dbapi_connection.autocommit = False
        except Exception:  # noqa: BLE001
            pass


@event.listens_for(Integration, "after_update")
@event.listens_for(Integration, "after_delete")
def _forget_engines(_mapper, _connection, integration: Integration) -> None:
    ENGINES.forget(integration.id)


def engine_for(session: Session, user: User, found: Found, sqlite: SqliteFiles) -> Engine:
    require(found.access, Access.READ)
    integration = found.integration
    if not is_database(integration):
        raise NotADatabase("this integration is not a database (type postgresql, mysql, "
                           "sqlite, or database with data.dialect)")
    connections.require_enabled(integration)
    username, password = _credentials(session, user, integration)
    url = database_url(integration, username, password, sqlite)
    if url.get_backend_name() == "sqlite":  # never pooled: opened as just checked, per query
        return sqlite_files.engine(url, sqlite.max_value_bytes)
    key = (integration.id, integration.updated_at.isoformat() if integration.updated_at else "",
           username or "", crypto.fingerprint(password))
    return ENGINES.get(key, url)


# -- running queries ---------------------------------------------------------

def run_query(engine: Engine, sql: str, params: Mapping[str, Any] | None, limit: int,
              timeout_ms: int, max_bytes: int) -> QueryResult:
    """At most ``limit`` rows and ``max_bytes`` of them as JSON (query_rows.py)."""
    dialect = engine.dialect.name
    try:
        with engine.connect() as connection:
            _begin_read_only(connection, dialect, timeout_ms)
            try:
                names, rows = _execute(connection, dialect, sql, dict(params or {}), limit,
                                       timeout_ms, max_bytes)
            finally:
                _end(connection, dialect)
    except DBAPIError as failure:
        raise _translate(failure, dialect) from None
    except SQLAlchemyError as failure:
        raise QueryFailed(_message(failure)) from None
    columns = [{"name": name, "type": _column_type(rows.raw, index)}
               for index, name in enumerate(names)]
    return QueryResult(columns, rows.values, rows.truncated)


def _execute(connection, dialect: str, sql: str, params: dict, limit: int, timeout_ms: int,
             max_bytes: int) -> tuple[list[str], query_rows.Rows]:
    """One statement, bound parameters, rows read in batches through the driver.

    PostgreSQL gets a server-side cursor, or else a prepared statement: either holds exactly
    one command, so a text such as "SELECT 1; COMMIT; INSERT ..." cannot escape the read-only
    transaction. SQLite takes ``:name`` itself; the others get ``%(name)s``.
    """
    driver = connection.connection.driver_connection
    statement, values = sql, (params or None)
    if dialect != "sqlite":
        try:
            statement, values = sql_params.to_pyformat(sql, params) if params else (sql, None)
        except sql_params.MissingParameter as missing:
            raise QueryFailed(f"no value for the parameter :{missing}") from None
    cursor, truncated = None, False
    try:
        cursor = query_rows.execute(driver, dialect, statement, values)
        if cursor.description is None:
            raise QueryNotReadOnly("the statement returns no rows; only queries are allowed")
        names = [column[0] for column in cursor.description]
        rows = query_rows.collect(query_rows.fetcher(driver, cursor, timeout_ms), limit,
                                  max_bytes, json_safe)
        truncated = rows.truncated
        return names, rows
    except QueryNotReadOnly:
        raise
    except Exception as failure:  # the driver's own error, wrapped as SQLAlchemy would
        if dialect == "sqlite" and (refused := sqlite_files.refusal(driver)):
            kind = sqlite_files.QueryFunctionNotAllowed if refused.function else QueryNotReadOnly
            raise kind(refused.detail) from None
        if isinstance(failure, connection.dialect.loaded_dbapi.Error):
            raise DBAPIError.instance(statement, None, failure,
                                      connection.dialect.loaded_dbapi.Error) from None
        raise
    finally:
        if cursor is not None:
            query_rows.finish(connection, dialect, cursor, truncated)


def _begin_read_only(connection, dialect: str, timeout_ms: int) -> None:
    if dialect == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
    elif dialect == "mysql":
        connection.exec_driver_sql("ROLLBACK")  # the implicit transaction SQLAlchemy began
        database_drivers.expect_answer_within(connection.connection.driver_connection, timeout_ms)
        # The session too: DDL would otherwise commit implicitly and run outside the
        # read-only transaction.
        connection.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
        if connection.dialect.is_mariadb:
            connection.exec_driver_sql(f"SET SESSION max_statement_time = {timeout_ms / 1000:.3f}")
        else:
            connection.exec_driver_sql(f"SET SESSION max_execution_time = {int(timeout_ms)}")
        connection.exec_driver_sql("START TRANSACTION READ ONLY")
    else:
        deadline = time.monotonic() + timeout_ms / 1000
        raw = connection.connection.driver_connection
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)


def _end(connection, dialect: str) -> None:
    try:
        connection.rollback()
    finally:
        if dialect == "sqlite":
            connection.connection.driver_connection.set_progress_handler(None, 0)


_READ_ONLY_SIGNS = ("read-only", "read only", "readonly", "25006", "1792")
# The driver gave up waiting for the server (connect, handshake or answer), not a statement
# timeout of the server's own.
_STALLED_SIGNS = ("timeout expired", "timed out")
_TIMEOUT_SIGNS = ("57014", "statement timeout", "canceling statement", "max_statement_time",
                  "max_execution_time", "3024", "1969", "interrupted")


def _translate(failure: DBAPIError, dialect: str) -> errors.HubError:
    message = _message(failure)
    lowered = message.lower()
    code = str(getattr(failure.orig, "sqlstate", "") or (failure.orig.args[0]
                                                         if getattr(failure.orig, "args", None)
                                                         else ""))
    if any(sign in lowered for sign in _STALLED_SIGNS):
        return database_drivers.DatabaseTimeout(message)
    if failure.connection_invalidated or _is_connect_error(failure):
        return DatabaseUnavailable(message)
    if any(sign in lowered or sign == code for sign in _READ_ONLY_SIGNS):
        return QueryNotReadOnly(message)
    if any(sign in lowered or sign == code for sign in _TIMEOUT_SIGNS):
        return QueryTimeout(message)
    return QueryFailed(message)


def _is_connect_error(failure: DBAPIError) -> bool:
    text_ = str(failure.orig).lower()
    return any(sign in text_ for sign in ("connection refused", "could not connect",
                                          "authentication failed", "access denied for user",
                                          "can't connect", "unable to open database",
                                          "no such host", "connection to server",
                                          "lost connection", "server has gone away",
                                          "asked for a file"))


def _message(failure: Exception) -> str:
    """The database's own message, first line, without SQL or parameters."""
    original = getattr(failure, "orig", None) or failure
    first = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return first[:500]


def json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)  # MySQL TIME and PostgreSQL interval: "10:20:30", "1 day, 2:00:00"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (dict, list)):
        return json.loads(json.dumps(value, default=str))
    return str(value)


def _column_type(rows, index: int) -> str:
    for row in rows:
        value = row[index]
        if value is None:
            continue
        for kind, name in ((bool, "boolean"), (int, "integer"), (float, "number"),
                           (decimal.Decimal, "decimal"), (str, "string"),
                           (dt.datetime, "datetime"), (dt.date, "date"), (dt.time, "time"),
                           (dt.timedelta, "interval"), ((bytes, bytearray, memoryview), "binary"),
                           (uuid.UUID, "uuid"), ((dict, list), "json")):
            if isinstance(value, kind):
                return name
        return "string"
    return "unknown"


# -- schema and test ---------------------------------------------------------

def describe(engine: Engine) -> list[dict[str, Any]]:
    try:
        inspector = inspect(engine)
        tables = []
        for name in sorted(inspector.get_table_names()):
            columns = [{"name": c["name"], "type": str(c["type"]).lower(),
                        "nullable": bool(c.get("nullable", True))}
                       for c in inspector.get_columns(name)]
            tables.append({"name": name, "columns": columns})
        return tables
    except DBAPIError as failure:
        raise _translate(failure, engine.dialect.name) from None


def ping(engine: Engine) -> tuple[bool, int, str | None, str | None]:
    """(ok, latency in ms, error, its problem code): connect, select, and check the account
    afresh (a pooled connection was checked when it was opened)."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
            database_accounts.require_least_privilege(engine, connection.connection.driver_connection)
        return True, took(), None, None
    except database_accounts.DatabaseAccountTooPowerful as refused:
        engine.dispose()  # no pooled connection of this account serves another query
        return False, took(), refused.detail, refused.code
    except DBAPIError as failure:
        problem = _translate(failure, engine.dialect.name)
        return False, took(), problem.detail, problem.code
    except SQLAlchemyError as failure:
        return False, took(), _message(failure), QueryFailed.code
