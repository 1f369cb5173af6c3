"""sqlite_files and sqlite_connections: the URI the hub writes, which paths it accepts, and
what the authorizer allows."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from integration_hub.config import Settings
from integration_hub.databases.sqlite_connections import Authorizer, connect
from integration_hub.databases.sqlite_files import (
    LEAST_VALUE_LIMIT,
    SqliteFiles,
    SqlitePathHubFile,
    SqlitePathNotAFile,
    SqlitePathOutsideRoot,
    file_uri,
)


@pytest.mark.parametrize(("path", "uri"), [
    ("/data/plain.db", "file:/data/plain.db?mode=ro"),
    ("/data/with space.db", "file:/data/with%20space.db?mode=ro"),
    ("/data/q.db?mode=rw&x=", "file:/data/q.db%3Fmode%3Drw%26x%3D?mode=ro"),
    ("/data/%2e%2e/hub.db", "file:/data/%252e%252e/hub.db?mode=ro"),
    ("/data/a#b.db", "file:/data/a%23b.db?mode=ro"),
    ("/data/ü.db", "file:/data/%C3%BC.db?mode=ro"),
])
def test_the_uri_is_written_from_the_path_with_every_special_byte_encoded(path, uri):
    assert file_uri(Path(path)) == uri


@pytest.fixture
def tree(tmp_path):
    """root/ with a file, the hub's database and queue, and its instance folder inside."""
    root = tmp_path / "root"
    (root / "instance").mkdir(parents=True)
    (root / "data").mkdir()
    for name in ("data/ok.db", "hub.db", "hub.db-wal", "queue.db", "instance/secret-key"):
        (root / name).write_bytes(b"x")
    (tmp_path / "elsewhere.db").write_bytes(b"x")
    files = SqliteFiles(root, tuple(root / f"{name}{side}" for name in ("hub.db", "queue.db")
                                    for side in ("", "-wal", "-shm", "-journal")),
                        (root / "instance",))
    return root, files


@pytest.mark.parametrize(("given", "found"), [
    ("data/ok.db", "data/ok.db"),
    ("{root}/data/ok.db", "data/ok.db"),
    ("data/../data/ok.db", "data/ok.db"),
    ("data/missing.db", "data/missing.db"),           # may be made later; opening it fails
    ("data/%2e%2e/hub.db?mode=rw", "data/%2e%2e/hub.db?mode=rw"),  # a name, not a URI
])
def test_accepted_paths_are_real_files_under_the_root(tree, given, found):
    root, files = tree
    assert files.check(given.format(root=root)) == root / found


@pytest.mark.parametrize(("given", "refused"), [
    ("../elsewhere.db", SqlitePathOutsideRoot),
    ("{root}/../elsewhere.db", SqlitePathOutsideRoot),
    ("", SqlitePathOutsideRoot),
    ("hub.db", SqlitePathHubFile),
    ("hub.db-wal", SqlitePathHubFile),
    ("data/../queue.db", SqlitePathHubFile),
    ("instance/secret-key", SqlitePathHubFile),
    ("instance/new.db", SqlitePathHubFile),
    ("instance", SqlitePathHubFile),
    ("data", SqlitePathNotAFile),
    (".", SqlitePathNotAFile),
    ("data/nul\x00.db", SqlitePathNotAFile),
])
def test_refused_paths(tree, given, refused):
    root, files = tree
    with pytest.raises(refused) as caught:
        files.check(given.format(root=root))
    assert caught.value.errors["data.path"]


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
@pytest.mark.parametrize("target", ["hub.db", "queue.db", "instance/secret-key"])
def test_a_second_name_of_a_hub_file_is_refused(tree, link, target):
    root, files = tree
    second = root / "data" / "innocent.db"
    (second.symlink_to if link == "symlink" else second.hardlink_to)(root / target)
    with pytest.raises(SqlitePathHubFile):
        files.check("data/innocent.db")


class Listings:
    """The folders this process lists (Python's audit events for os.scandir and os.listdir,
    which os.walk uses): what the checks really read, no stand-in for them."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.on = False

    def __call__(self, event: str, args) -> None:
        if self.on and event in ("os.scandir", "os.listdir"):
            self.seen.append(os.fsdecode(args[0]) if args and args[0] is not None else ".")


LISTINGS = Listings()
sys.addaudithook(LISTINGS)  # hooks stay for the process: this one records only when on


@contextlib.contextmanager
def listed():
    LISTINGS.seen, LISTINGS.on = [], True
    try:
        yield LISTINGS.seen
    finally:
        LISTINGS.on = False


def test_a_file_with_one_name_is_checked_without_listing_the_instance_folder(tree):
    """Only a file with a second name can be a hard link of a hub file; checking every other
    one used to walk the whole instance folder, on every query."""
    root, files = tree
    for name in range(50):
        (root / "instance" / f"cache-{name}").write_bytes(b"x")
    with listed() as seen:
        for _ in range(3):
            assert files.check("data/ok.db") == root / "data" / "ok.db"
    assert seen == []

    deep = root / "instance" / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "token").write_bytes(b"x")
    (root / "data" / "token.db").hardlink_to(deep / "token")  # made after the files were set up
    with listed() as seen, pytest.raises(SqlitePathHubFile):
        files.check("data/token.db")
    assert seen  # a second name: the instance folder is searched for the first
    (root / "data" / "other.db").hardlink_to(root / "data" / "ok.db")  # two names, neither the hub's
    assert files.check("data/other.db") == root / "data" / "other.db"


def test_a_fifo_is_not_a_file(tree):
    root, files = tree
    os.mkfifo(root / "data" / "pipe.db")  # opening it would wait for a writer
    with pytest.raises(SqlitePathNotAFile):
        files.check("data/pipe.db")


def test_no_root_no_sqlite(tree):
    with pytest.raises(SqlitePathOutsideRoot, match="HUB_SQLITE_ROOT"):
        SqliteFiles(None).check("anything.db")


def test_a_root_inside_the_instance_folder_is_for_integrations(tmp_path):
    instance = tmp_path / "instance"
    (instance / "databases").mkdir(parents=True)
    (instance / "secret-key").write_bytes(b"x")
    (instance / "databases" / "ok.db").write_bytes(b"x")
    os.link(instance / "secret-key", instance / "databases" / "key.db")
    files = SqliteFiles(instance / "databases", (), (instance,))
    assert files.check("ok.db") == instance / "databases" / "ok.db"
    with pytest.raises(SqlitePathHubFile):
        files.check("key.db")
    with pytest.raises(SqlitePathOutsideRoot):
        files.check("../secret-key")


S = sqlite3
ALLOWED = [
    (S.SQLITE_SELECT, None, None), (S.SQLITE_READ, "items", "name"), (S.SQLITE_RECURSIVE, None, None),
    (S.SQLITE_FUNCTION, None, "json_extract"), (S.SQLITE_FUNCTION, None, "COUNT"),
    (S.SQLITE_FUNCTION, None, "->>"), (S.SQLITE_PRAGMA, "table_xinfo", "items"),
    (S.SQLITE_PRAGMA, "index_list", "items"), (S.SQLITE_PRAGMA, "read_uncommitted", None),
]
REFUSED = [
    (S.SQLITE_FUNCTION, None, "load_extension", "load_extension()"),
    (S.SQLITE_FUNCTION, None, "fts3_tokenizer", "fts3_tokenizer()"),
    (S.SQLITE_FUNCTION, None, "regexp", "regexp()"),
    (S.SQLITE_FUNCTION, None, "sqlite_log", "sqlite_log()"),
    (S.SQLITE_PRAGMA, "query_only", "OFF", "PRAGMA query_only = OFF"),
    (S.SQLITE_PRAGMA, "read_uncommitted", "1", "PRAGMA read_uncommitted = 1"),
    (S.SQLITE_PRAGMA, "writable_schema", None, "PRAGMA writable_schema"),
    (S.SQLITE_INSERT, "items", None, "INSERT into items"),
    (S.SQLITE_UPDATE, "items", "name", "UPDATE of items"),
    (S.SQLITE_DELETE, "items", None, "DELETE from items"),
    (S.SQLITE_INSERT, "sqlite_temp_master", None, "changing the schema"),
    (S.SQLITE_ATTACH, "/tmp/x.db", None, "ATTACH"),
    (S.SQLITE_DETACH, "main", None, "DETACH"),
    (S.SQLITE_TRANSACTION, "BEGIN", None, "BEGIN"),
    (S.SQLITE_SAVEPOINT, "BEGIN", "s", "SAVEPOINT"),
    (S.SQLITE_ALTER_TABLE, "main", "items", "ALTER TABLE"),
    (S.SQLITE_CREATE_VTABLE, "t", "fts5", "CREATE VTABLE"),
]


@pytest.mark.parametrize(("action", "first", "second"), ALLOWED)
def test_the_authorizer_allows_reading(action, first, second):
    authorizer = Authorizer()
    assert authorizer(action, first, second, "main", None) == S.SQLITE_OK
    assert authorizer.refused is None


@pytest.mark.parametrize(("action", "first", "second", "said"), REFUSED)
def test_the_authorizer_refuses_the_rest_and_says_what(action, first, second, said):
    authorizer = Authorizer()
    assert authorizer(action, first, second, "main", None) == S.SQLITE_DENY
    assert said in authorizer.refused.detail
    assert authorizer.refused.function is (action == S.SQLITE_FUNCTION)
    # the first refusal of a statement is the one explained
    authorizer(S.SQLITE_INSERT, "other", None, "main", None)
    assert said in authorizer.refused.detail


def test_sqlite_asking_to_update_the_schema_table_for_table_valued_functions_is_ignored():
    assert Authorizer()(S.SQLITE_UPDATE, "sqlite_master", "type", "main", None) == S.SQLITE_IGNORE


def test_a_small_cap_still_lets_sqlite_read_a_long_schema(tmp_path):
    path = tmp_path / "wide.db"
    columns = ", ".join(f"column_with_a_long_name_{number} TEXT" for number in range(2000))
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(f"CREATE TABLE wide ({columns})")
    assert len(columns) > 64 * 1024
    with contextlib.closing(connect(path, LEAST_VALUE_LIMIT)) as db:
        assert db.execute("SELECT count(*) FROM wide").fetchall() == [(0,)]
        with pytest.raises(sqlite3.DataError, match="too big"):
            db.execute(f"SELECT zeroblob({LEAST_VALUE_LIMIT + 1})").fetchall()


def test_the_hubs_files_and_the_value_limit_come_from_the_settings(tmp_path):
    settings = Settings.from_env({
        "HUB_INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "q7Vd2Lk9Xw4Rz8Pm3Tj6Hs1Nb5Gc0FyE",
        "DATABASE_URL": f"sqlite:///{tmp_path}/hub.db", "HUB_QUEUE_URL": f"sqlite:///{tmp_path}/q.db",
        "HUB_SQLITE_ROOT": str(tmp_path), "HUB_QUERY_MAX_BYTES": "2048"})
    files = SqliteFiles.of(settings)
    assert files.root == tmp_path.resolve()
    assert {tmp_path / "hub.db", tmp_path / "hub.db-wal", tmp_path / "q.db-journal"} <= set(
        files.hub_files)
    assert files.hub_folders == ((tmp_path / "instance").resolve(),)
    assert files.max_value_bytes == LEAST_VALUE_LIMIT
    big = Settings.from_env({"HUB_INSTANCE_PATH": str(tmp_path / "instance"),
                             "SECRET_KEY": "q7Vd2Lk9Xw4Rz8Pm3Tj6Hs1Nb5Gc0FyE",
                             "DATABASE_URL": "postgresql://db.example/hub",
                             "HUB_QUEUE_URL": "redis://127.0.0.1:6379/0"})
    assert SqliteFiles.of(big).hub_files == ()
    assert SqliteFiles.of(big).max_value_bytes == 16 * 1024 * 1024
