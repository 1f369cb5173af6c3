"""SQLite files a database integration may open, and how the hub opens them (docs/security.md).

A user's ``data.path`` names a file; it never becomes URI syntax. The hub resolves it (symlinks
followed) to a real path that must lie under ``HUB_SQLITE_ROOT``, be a regular file (or not exist
yet) and not be one of the hub's own files: its database, its queue, anything in its instance
folder, also under a second name (a hard link). It then writes the ``file:`` URI itself, from
that real path, percent-encoded, with ``mode=ro``.

SQLite enforces reading only, twice: the file is opened read-only, and the connection's
authorizer allows reading tables and calling a list of functions, nothing else: no PRAGMA that
sets anything, no ATTACH (VACUUM INTO is one), no transaction control, no schema or data change,
no ``load_extension`` or ``fts3_tokenizer``; only the file's shadow tables are let through
for an R*Tree's own statements (see ``Authorizer``). No single value may be larger than the answer's
byte cap (or 1 MiB, when the cap is smaller). Connections are not pooled: every query opens
the file anew, so nothing one query did to its connection is there for the next.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from integration_hub import errors


class SqlitePathOutsideRoot(errors.ValidationFailed):
    code, title = "sqlite_path_outside_root", "SQLite files must be under HUB_SQLITE_ROOT"


class SqlitePathHubFile(errors.ValidationFailed):
    code, title = "sqlite_path_hub_file", "The hub's own files cannot be opened by integrations"


class SqlitePathNotAFile(errors.ValidationFailed):
    code, title = "sqlite_path_not_a_file", "The SQLite path does not name a file"


class QueryFunctionNotAllowed(errors.ValidationFailed):
    code, title = "query_function_not_allowed", "Queries cannot call this function"


# -- which file -------------------------------------------------------------------------------

SIDE_FILES = ("", "-wal", "-shm", "-journal")
# SQLite's limit on one value applies to the schema it reads too: never below this.
LEAST_VALUE_LIMIT = 1024 * 1024


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _sqlite_file_of(url: str) -> Path | None:
    """The file a ``sqlite://`` URL (the hub's database or queue) names, if it names one."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    return Path(database.removeprefix("file:").split("?")[0]).resolve()


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


@dataclass(frozen=True)
class SqliteFiles:
    """The files under ``root`` that are not the hub's own."""

    root: Path | None
    hub_files: tuple[Path, ...] = ()      # the hub's database and queue, with journal and WAL
    hub_folders: tuple[Path, ...] = ()    # the instance folder
    max_value_bytes: int = 16 * 1024 * 1024  # the answer's byte cap, at least LEAST_VALUE_LIMIT

    @classmethod
    def of(cls, settings) -> SqliteFiles:
        own = [file for file in (_sqlite_file_of(settings.database_url),
                                 _sqlite_file_of(settings.queue_url)) if file]
        return cls(settings.sqlite_root,
                   tuple(file.with_name(file.name + side) for file in own for side in SIDE_FILES),
                   (settings.instance_path.resolve(),),
                   max(settings.query_max_bytes, LEAST_VALUE_LIMIT))

    def check(self, path: str) -> Path:
        """The real path of the file ``path`` names; refused unless integrations may open it."""
        if self.root is None:
            raise _refused(SqlitePathOutsideRoot,
                           "SQLite database integrations need HUB_SQLITE_ROOT to be set")
        if not path:
            raise _refused(SqlitePathOutsideRoot, "a SQLite integration needs data.path")
        try:
            given = Path(path)
            real = (given if given.is_absolute() else self.root / given).resolve()
        except (OSError, RuntimeError, ValueError):  # a NUL byte, a loop of symlinks
            raise _refused(SqlitePathNotAFile, "is not a usable file path") from None
        if not _under(real, self.root):
            raise _refused(SqlitePathOutsideRoot,
                           "the file must be under the directory HUB_SQLITE_ROOT names")
        if self._is_hub_file(real):
            raise _refused(SqlitePathHubFile, "is one of the hub's own files (its database, "
                                              "queue or instance folder)")
        try:
            other = real.exists() and not real.is_file()
        except OSError:  # a folder on the way the hub may not look into
            other = True
        if other:
            raise _refused(SqlitePathNotAFile, "is not a regular file the hub can read")
        return real

    def url(self, path: str) -> URL:
        """A URL naming the checked real file (the hub writes the ``file:`` URI from it)."""
        return URL.create("sqlite", database=str(self.check(path)))

    def _is_hub_file(self, real: Path) -> bool:
        if real in self.hub_files:
            return True
        # A root inside the instance folder was given to integrations by the operator.
        folders = [folder for folder in self.hub_folders if not _under(self.root, folder)]
        if any(_under(real, folder) for folder in folders):
            return True
        try:
            found = os.stat(real)
        except OSError:
            return False
        if found.st_nlink < 2:
            # One name only: not a hard link of anything, so no need to search the hub's
            # folders (which was done on every query).
            return False
        identity = (found.st_dev, found.st_ino)
        return any(_identity(file) == identity for file in self.hub_files) or any(
            identity in self._identities_in(folder) for folder in self.hub_folders)

    def _identities_in(self, folder: Path):
        """(device, inode) of every file in ``folder`` outside the root, as found."""
        for parent, folder_names, file_names in os.walk(folder):
            folder_names[:] = [name for name in folder_names
                               if not _under(self.root, Path(parent, name))]
            for name in file_names:
                yield _identity(Path(parent, name))


def _refused(kind: type[errors.HubError], message: str) -> errors.HubError:
    return kind(f"data.path {message}", errors={"data.path": [message]})


def file_uri(path: Path) -> str:
    """``file:`` URI of an absolute path, read-only: every byte SQLite could read as URI
    syntax (``%``, ``?``, ``#``, spaces, non-ASCII) is percent-encoded."""
    return f"file:{quote(str(path), safe='/')}?mode=ro"


# -- how it is opened -------------------------------------------------------------------------

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
