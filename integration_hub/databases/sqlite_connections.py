"""How the hub opens an integration's SQLite file: read-only, twice (docs/security.md).

The file is opened read-only (``mode=ro``, through the URI databases/sqlite_files.py writes) and the
connection's authorizer allows reading tables and calling a list of functions, nothing else: no
PRAGMA that sets anything, no ATTACH (VACUUM INTO is one), no transaction control, no schema or
data change, no ``load_extension`` or ``fts3_tokenizer``; only the file's shadow tables are let
through for an R*Tree's own statements (see ``Authorizer``). No single value may be larger than
the answer's byte cap (or 1 MiB, when the cap is smaller). Connections are not pooled: every
query opens the file anew, so nothing one query did to its connection is there for the next.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from integration_hub import errors
from integration_hub.databases.sqlite_files import file_uri


class QueryFunctionNotAllowed(errors.ValidationFailed):
    code, title = "query_function_not_allowed", "Queries cannot call this function"


# Functions queries may call: SQLite's own pure functions (text, numbers, dates, JSON, window and
# aggregate functions, full-text search helpers). Anything else, ``load_extension``,
# ``fts3_tokenizer`` (reads and sets C pointers), ``sqlite_log``, FTS ``optimize``, and any
# function a library registers on the connection (SQLAlchemy's Python ``regexp``), is refused.
SAFE_FUNCTIONS = frozenset("""
    abs char coalesce concat concat_ws format glob hex if ifnull iif instr length like likelihood
    likely lower ltrim max min nullif octet_length printf quote random randomblob replace round
    rtrim sign soundex substr substring trim typeof unhex unicode unistr unistr_quote unlikely
    upper zeroblob changes total_changes last_insert_rowid sqlite_version sqlite_source_id
    avg count group_concat string_agg sum total median percentile percentile_cont percentile_disc
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value
    nth_value
    date time datetime julianday unixepoch strftime timediff current_date current_time
    current_timestamp
    acos acosh asin asinh atan atan2 atanh ceil ceiling cos cosh degrees exp floor ln log log10
    log2 mod pi pow power radians sin sinh sqrt tan tanh trunc
    json jsonb json_array jsonb_array json_array_length json_error_position json_extract
    jsonb_extract -> ->> json_insert jsonb_insert json_object jsonb_object json_patch jsonb_patch
    json_pretty json_quote json_remove jsonb_remove json_replace jsonb_replace json_set jsonb_set
    json_type json_valid json_group_array jsonb_group_array json_group_object jsonb_group_object
    match bm25 highlight snippet offsets matchinfo
""".split())
# PRAGMAs that only describe tables, whatever their argument (a table or index name), and
# those that only read when they have no argument (SQLAlchemy asks read_uncommitted).
DESCRIBING_PRAGMAS = frozenset({"table_info", "table_xinfo", "table_list", "index_list",
                                "index_info", "index_xinfo", "foreign_key_list"})
READING_PRAGMAS = frozenset({"read_uncommitted", "user_version", "application_id", "encoding",
                             "page_size", "page_count", "data_version"})
SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_schema", "sqlite_temp_master",
                           "sqlite_temp_schema"})
_ACTION_NAMES = {getattr(sqlite3, f"SQLITE_{name}"): name.replace("_", " ") for name in (
    "CREATE_INDEX", "CREATE_TABLE", "CREATE_TEMP_INDEX", "CREATE_TEMP_TABLE",
    "CREATE_TEMP_TRIGGER", "CREATE_TEMP_VIEW", "CREATE_TRIGGER", "CREATE_VIEW", "DROP_INDEX",
    "DROP_TABLE", "DROP_TEMP_INDEX", "DROP_TEMP_TABLE", "DROP_TEMP_TRIGGER", "DROP_TEMP_VIEW",
    "DROP_TRIGGER", "DROP_VIEW", "DETACH", "ALTER_TABLE", "REINDEX", "ANALYZE", "CREATE_VTABLE",
    "DROP_VTABLE", "SAVEPOINT") if hasattr(sqlite3, f"SQLITE_{name}")}


_CHANGES = (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE)


@dataclass(frozen=True)
class Refusal:
    what: str  # from the statement: a table, function or PRAGMA name, a PRAGMA's value
    function: bool = False  # a function off the list, rather than a change

    @property
    def detail(self) -> str:
        what = self.what if len(self.what) <= 200 else self.what[:200] + "…"
        if self.function:
            return f"{what} is not one of the functions queries may call"
        return f"queries through the hub only read: {what} is not allowed"


class Authorizer:
    """SQLite's authorizer callback: reading and SAFE_FUNCTIONS, nothing else. Remembers the
    first thing it refused, for the answer.

    One exception, for the virtual tables of the file: an R*Tree table prepares its statements
    on its shadow tables (``<name>_node``, ``_rowid``, ``_parent``), writing ones included,
    when it is first read, and fails to open if one is refused. SQLite cannot tell the
    authorizer whose statement it is preparing, so changes to ``shadow_tables`` are let
    through the authorizer: an INSERT or UPDATE is prepared as doing nothing (SQLITE_IGNORE),
    a DELETE still meets the read-only file and ``query_only``."""

    def __init__(self, shadow_tables: frozenset[str] = frozenset()) -> None:
        self.refused: Refusal | None = None
        self.shadow_tables = shadow_tables

    def __call__(self, action: int, first: str | None, second: str | None, database,
                 _trigger_or_view) -> int:
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE):
            return sqlite3.SQLITE_OK
        if (action in _CHANGES and database == "main" and first in self.shadow_tables):
            return sqlite3.SQLITE_OK if action == sqlite3.SQLITE_DELETE else sqlite3.SQLITE_IGNORE
        if action == sqlite3.SQLITE_FUNCTION and (second or "").lower() in SAFE_FUNCTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA and ((first or "").lower() in DESCRIBING_PRAGMAS or (
                second is None and (first or "").lower() in READING_PRAGMAS)):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_UPDATE and first in SCHEMA_TABLES:
            # SQLite asks this while it connects a table-valued function (json_each,
            # pragma_table_info); ignored, a column is left as it is.
            return sqlite3.SQLITE_IGNORE
        if self.refused is None:
            self.refused = _refusal(action, first, second)
        return sqlite3.SQLITE_DENY


def _refusal(action: int, first: str | None, second: str | None) -> Refusal:
    if action == sqlite3.SQLITE_FUNCTION:
        return Refusal(f"{second}()", function=True)
    if action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE):
        if first in SCHEMA_TABLES:
            return Refusal("changing the schema (CREATE, DROP, ALTER, ANALYZE)")
        verb = {sqlite3.SQLITE_INSERT: "INSERT into", sqlite3.SQLITE_UPDATE: "UPDATE of",
                sqlite3.SQLITE_DELETE: "DELETE from"}[action]
        return Refusal(f"{verb} {first}")
    if action == sqlite3.SQLITE_PRAGMA:
        return Refusal(f"PRAGMA {first}" + ("" if second is None else f" = {second}"))
    if action == sqlite3.SQLITE_TRANSACTION:
        return Refusal(f"{first} (transaction control)")
    if action == sqlite3.SQLITE_ATTACH:
        return Refusal("ATTACH (and VACUUM, which uses it)")
    return Refusal(_ACTION_NAMES.get(action, f"action {action}"))


class ReadOnlyConnection(sqlite3.Connection):
    """A connection that carries its authorizer, so a refusal can be explained."""

    authorizer: Authorizer


def connect(path: Path, max_value_bytes: int) -> ReadOnlyConnection:
    connection = sqlite3.connect(file_uri(path), uri=True, isolation_level=None,
                                 check_same_thread=False, factory=ReadOnlyConnection)
    try:
        connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_value_bytes)
        connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        connection.execute("PRAGMA query_only = ON")
        connection.authorizer = Authorizer(_shadow_tables(connection))
        connection.set_authorizer(connection.authorizer)
    except BaseException:
        connection.close()
        raise
    return connection


def _shadow_tables(connection: sqlite3.Connection) -> frozenset[str]:
    """The file's shadow tables (SQLite marks them: their names extend a virtual table's
    with a suffix its module owns). A file SQLite cannot read has none here; the query
    then says why."""
    try:
        return frozenset(name for name, in connection.execute(
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'"))
    except sqlite3.Error:
        return frozenset()


def engine(url: URL, max_value_bytes: int) -> Engine:
    """An engine without a pool for the checked file ``url`` names: a connection per query."""
    path = Path(url.database)
    return create_engine("sqlite://", creator=lambda: connect(path, max_value_bytes),
                         poolclass=NullPool, hide_parameters=True)


def refusal(driver_connection) -> Refusal | None:
    """What the authorizer refused last on this connection (and forget it)."""
    authorizer = getattr(driver_connection, "authorizer", None)
    if authorizer is None:
        return None
    found, authorizer.refused = authorizer.refused, None
    return found
