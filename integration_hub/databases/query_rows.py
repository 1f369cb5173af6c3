"""A query's rows, read a few at a time up to a row limit and a byte cap (docs/security.md).

Left to themselves, psycopg's and PyMySQL's cursors read the whole result into the worker
before the first row is looked at (``generate_series(1, 10000000)`` with ``limit: 10`` took a
gigabyte). Here PostgreSQL runs the statement as a server-side cursor (psycopg's named cursor:
the server computes rows as they are fetched), MySQL/MariaDB through PyMySQL's unbuffered
``SSCursor`` (rows are read off the socket as they are wanted), and SQLite steps its statement a
row at a time anyway.

A row's size is known only once it is read, and a small row says nothing of the next one: a
batch sized on the rows seen so far (once, up to 1000 rows) held a thousand large rows at once.
So MySQL and SQLite rows are read one at a time (their drivers read a row off the socket or step
the statement per row anyway), and a PostgreSQL cursor's FETCH asks for at most
POSTGRES_BATCH rows (one round trip each, and a ``statement_timeout`` per FETCH): batches start
at one row and double up to that, never asking for more rows than the bytes left would hold at
the size of the largest row so far. Reading stops at ``limit`` rows or at ``max_bytes`` of rows
as JSON, whichever comes first, and the answer says ``truncated``. The worker holds what it
answers and at most one batch beyond it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

POSTGRES_BATCH = 16
CURSOR_NAME = "hub_query"
# DECLARE CURSOR takes only a query: for anything else (INSERT ... RETURNING, SHOW, EXPLAIN, a
# data-modifying WITH) PostgreSQL answers syntax_error or feature_not_supported, and the
# statement runs as one prepared statement instead, where the read-only transaction decides.
_NOT_A_CURSOR = ("42601", "0A000")


@dataclass(frozen=True)
class Rows:
    values: list[list[Any]]    # JSON-safe, as answered
    truncated: bool            # rows were left unread (the limit, or the byte cap)
    # Per column, the first value that is not None as the driver gave it (for the column's
    # type): the driver's rows are not kept, only what the answer carries.
    samples: list[Any] = field(default_factory=list)


def collect(fetch: Callable[[int], Sequence[Sequence[Any]]], limit: int, max_bytes: int,
            convert: Callable[[Any], Any], max_batch: int = 1, row_overhead: int = 0) -> Rows:
    """Rows from ``fetch(n)`` (at most n rows; fewer at the end), n never above ``max_batch``,
    until ``limit`` rows or ``max_bytes`` of JSON; one row more is asked for, to tell whether
    there were more. ``row_overhead``: bytes each row takes in the answer beyond its values
    as a JSON array (the column names of a row answered as an object)."""
    values: list[list[Any]] = []
    samples: list[Any] = []
    size, largest, batch = 2, 1, 1  # "[]"
    while True:
        wanted = max(1, min(batch, max_batch, limit + 1 - len(values),
                            (max_bytes - size) // largest))
        fetched = fetch(wanted)
        for row in fetched:
            if len(values) == limit:
                return Rows(values, True, samples)
            safe = [convert(value) for value in row]
            cost = len(json.dumps(safe, separators=(",", ":"))) + 1 + row_overhead
            if size + cost > max_bytes:
                return Rows(values, True, samples)
            values.append(safe)
            size += cost
            largest = max(largest, cost)
            if len(samples) < len(row):
                samples.extend([None] * (len(row) - len(samples)))
            for index, value in enumerate(row):
                if samples[index] is None and value is not None:
                    samples[index] = value
        if len(fetched) < wanted:
            return Rows(values, False, samples)
        batch = min(batch * 2, max_batch)


def execute(driver, dialect: str, statement: str, values: Any):
    """Run the statement with a cursor that fetches as it goes (see the module's text)."""
    if dialect == "postgresql":
        return _postgres_cursor(driver, statement, values)
    if dialect == "mysql":
        from pymysql.cursors import SSCursor

        cursor = driver.cursor(SSCursor)
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(statement) if values is None else cursor.execute(statement, values)
    except BaseException:
        cursor.close()
        raise
    return cursor


def _postgres_cursor(driver, statement: str, values: Any):
    driver.execute(f"SAVEPOINT {CURSOR_NAME}")
    cursor = driver.cursor(name=CURSOR_NAME)
    try:
        cursor.execute(statement, values)  # DECLARE: one statement only (extended protocol)
        return cursor
    except driver.Error as failure:
        cursor.close()
        if failure.sqlstate not in _NOT_A_CURSOR:
            raise
    driver.execute(f"ROLLBACK TO SAVEPOINT {CURSOR_NAME}")
    cursor = driver.cursor()
    try:
        cursor.execute(statement, values, prepare=True)
    except BaseException:
        cursor.close()
        raise
    return cursor


def batch_limit(cursor) -> int:
    """The most rows one fetch may read: POSTGRES_BATCH from a server-side cursor, else one."""
    return POSTGRES_BATCH if getattr(cursor, "name", None) == CURSOR_NAME else 1


def fetcher(driver, cursor, timeout_ms: int) -> Callable[[int], Sequence[Sequence[Any]]]:
    """``fetch(n)`` for ``collect``. A PostgreSQL server-side cursor computes rows at each
    FETCH, and ``statement_timeout`` counts per statement: every FETCH after the first gets
    only the time that is left."""
    if getattr(cursor, "name", None) != CURSOR_NAME:
        return cursor.fetchmany
    deadline = time.monotonic() + timeout_ms / 1000
    first = True

    def fetch(count: int):
        nonlocal first
        if not first:
            left = max(1, int((deadline - time.monotonic()) * 1000))
            driver.execute(f"SET LOCAL statement_timeout = {left}")
        first = False
        return cursor.fetchmany(count)

    return fetch


def finish(connection, dialect: str, cursor, truncated: bool) -> None:
    """Close the cursor. An unbuffered MySQL result left half-read would be read to its end
    on closing; the connection is dropped instead (the server stops when it cannot send)."""
    if dialect == "mysql" and truncated:
        # PyMySQL has no call to abandon an unbuffered result: mark it finished, or closing
        # the cursor (and collecting the result) would read the closed socket to the end.
        result = getattr(cursor, "_result", None)
        if result is not None:
            result.unbuffered_active = False
        connection.invalidate()
    cursor.close()
