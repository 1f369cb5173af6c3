"""Running one statement read-only, and what a database's failure means (docs/security.md).

Read-only is enforced by each database, never by reading the SQL: SQLite opens the file with
``mode=ro`` and an authorizer (databases/sqlite_connections.py), PostgreSQL runs a READ ONLY transaction
with a ``statement_timeout``, MySQL/MariaDB a READ ONLY transaction with ``max_execution_time`` /
``max_statement_time``. Rows are read a few at a time up to a row limit and a byte cap
(databases/query_rows.py) and answered as JSON (databases/query_values.py). A driver's
failure becomes one of the errors below, with the database's first message line and never
the SQL or its parameters.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from integration_hub import errors
from integration_hub.databases import drivers as database_drivers
from integration_hub.databases import query_rows, query_values, sql_params, sqlite_connections


class QueryNotReadOnly(errors.ValidationFailed):
    code, title = "query_not_read_only", "Queries through the hub are read-only"


class QueryFailed(errors.ValidationFailed):
    code, title = "query_failed", "The database refused the query"


class QueryTimeout(errors.HubError):
    status, code, title = 504, "query_timeout", "The query took too long"


class DatabaseUnreachable(errors.HubError):
    status, code, title = 502, "database_unreachable", "The database could not be reached"


class QueryColumnsNotUnique(errors.ValidationFailed):
    code, title = "query_columns_not_unique", "Rows with two columns of one name are no objects"


ROW_FORMATS = ("arrays", "objects")  # a row as its values in column order, or name -> value




@dataclass(frozen=True)
class QueryResult:
    columns: list[dict[str, str]]
    rows: list[list[Any]] | list[dict[str, Any]]  # as ``ROW_FORMATS`` says
    truncated: bool


def run_query(engine: Engine, sql: str, params: Mapping[str, Any] | None, limit: int,
              timeout_ms: int, max_bytes: int, row_format: str = "arrays") -> QueryResult:
    """At most ``limit`` rows and ``max_bytes`` of them as JSON (databases/query_rows.py),
    each row an array of its values or, with ``row_format`` "objects", an object of them by
    column name (a result with two columns of one name is refused: one would be lost)."""
    dialect = engine.dialect.name
    try:
        with read_only(engine, timeout_ms) as connection:
            names, rows = _execute(connection, dialect, sql, dict(params or {}), limit,
                                   timeout_ms, max_bytes, row_format == "objects")
    except DBAPIError as failure:
        raise translate(failure, dialect) from None
    except SQLAlchemyError as failure:
        raise QueryFailed(message(failure)) from None
    samples = rows.samples + [None] * (len(names) - len(rows.samples))
    columns = [{"name": name, "type": query_values.column_type(sample)}
               for name, sample in zip(names, samples, strict=False)]
    if row_format == "objects":
        return QueryResult(columns, [dict(zip(names, row, strict=True)) for row in rows.values],
                           rows.truncated)
    return QueryResult(columns, rows.values, rows.truncated)


def _execute(connection, dialect: str, sql: str, params: dict, limit: int, timeout_ms: int,
             max_bytes: int, as_objects: bool = False) -> tuple[list[str], query_rows.Rows]:
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
        overhead = 0
        if as_objects:
            if len(set(names)) < len(names):
                raise QueryColumnsNotUnique(
                    "two columns share a name, so rows cannot be objects: give each column a "
                    "name of its own (AS) or ask for rowFormat arrays")
            overhead = sum(len(json.dumps(name)) + 1 for name in names)  # "name": per value
        rows = query_rows.collect(query_rows.fetcher(driver, cursor, timeout_ms), limit,
                                  max_bytes, query_values.json_safe,
                                  query_rows.batch_limit(cursor), overhead)
        truncated = rows.truncated
        return names, rows
    except errors.HubError:  # the answer's own refusals (read-only, a value too deep)
        truncated = True  # rows left unread: dropped with the connection, never read out
        raise
    except Exception as failure:  # the driver's own error, wrapped as SQLAlchemy would
        if dialect == "sqlite" and (refused := sqlite_connections.refusal(driver)):
            kind = sqlite_connections.QueryFunctionNotAllowed if refused.function else QueryNotReadOnly
            raise kind(refused.detail) from None
        if isinstance(failure, connection.dialect.loaded_dbapi.Error):
            raise DBAPIError.instance(statement, None, failure,
                                      connection.dialect.loaded_dbapi.Error) from None
        raise
    finally:
        if cursor is not None:
            query_rows.finish(connection, dialect, cursor, truncated)


@contextlib.contextmanager
def read_only(engine: Engine, timeout_ms: int) -> Iterator[Connection]:
    """A connection in a read-only transaction whose statements stop at ``timeout_ms``
    (SQLite: the whole transaction), rolled back at the end."""
    dialect = engine.dialect.name
    with engine.connect() as connection:
        _begin_read_only(connection, dialect, timeout_ms)
        try:
            yield connection
        finally:
            _end(connection, dialect)


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


def translate(failure: DBAPIError, dialect: str) -> errors.HubError:
    said = message(failure)
    lowered = said.lower()
    code = str(getattr(failure.orig, "sqlstate", "") or (failure.orig.args[0]
                                                         if getattr(failure.orig, "args", None)
                                                         else ""))
    if any(sign in lowered for sign in _STALLED_SIGNS):
        return database_drivers.DatabaseTimeout(said)
    if failure.connection_invalidated or _is_connect_error(failure):
        return DatabaseUnreachable(said)
    if any(sign in lowered or sign == code for sign in _READ_ONLY_SIGNS):
        return QueryNotReadOnly(said)
    if any(sign in lowered or sign == code for sign in _TIMEOUT_SIGNS):
        return QueryTimeout(said)
    return QueryFailed(said)


def _is_connect_error(failure: DBAPIError) -> bool:
    text_ = str(failure.orig).lower()
    return any(sign in text_ for sign in ("connection refused", "could not connect",
                                          "authentication failed", "access denied for user",
                                          "can't connect", "unable to open database",
                                          "no such host", "connection to server",
                                          "lost connection", "server has gone away",
                                          "asked for a file"))


def message(failure: Exception) -> str:
    """The database's own message, first line, without SQL or parameters."""
    original = getattr(failure, "orig", None) or failure
    first = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return first[:500]
