"""SQLite database integrations open only files under HUB_SQLITE_ROOT, never the hub's own, and
only read them (docs/security.md, "Database integrations").

Each attack here once worked. A ``data.path`` such as ``in/%2e%2e/queue.db?mode=rw&x=`` passed
the root check (``Path.resolve`` sees a folder literally named ``%2e%2e``) while SQLite's URI
parser decoded it and took ``?mode=rw`` as a parameter; ``PRAGMA query_only = OFF`` survived on
the pooled connection, and ``WITH ... INSERT`` wrote (Python's sqlite3 begins no transaction for
it). A task written into the queue's file runs code as the hub's user; a write to the hub's
database makes a user an administrator; reading it gives every tenant's password hashes.

The hub here is set up the way that makes this worst: its own SQLite database (on the SQLite
backend), its queue file and its instance folder all lie under HUB_SQLITE_ROOT. The attacker is a
plain user allowed to create integrations. After every refusal the target file is read back
directly: the same bytes as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from integration_hub import create_app
from integration_hub.identity import directory as identity
from tests import factories
from tests.conftest import make_settings, missing_component
from tests.secret_watch import WatchedClient
from tests.support.databases import make_sqlite_file

PATH_CODES = ("sqlite_path_outside_root", "sqlite_path_hub_file")
NOT_READ_ONLY = "query_not_read_only"
FUNCTION_REFUSED = "query_function_not_allowed"
INSTANCE_MARK = "instance-file-row"
OUTSIDE_MARK = "outside-file-row"
VAULT_MARK = "vault-row"
VAULT_ROWS = [(VAULT_MARK,), ("second",)]


# -- the hub, its files and a root around them -------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    root: Path                 # HUB_SQLITE_ROOT
    queue: Path                # the hub's task queue (HUB_QUEUE_URL), under the root
    instance: Path             # the hub's instance folder (HUB_INSTANCE_PATH), under the root
    outside: Path              # a folder next to the root
    hub_database: Path | None  # the hub's own database file, under the root (SQLite backend)


@pytest.fixture(scope="module")
def layout(migrated_app, tmp_path_factory) -> Layout:
    url = make_url(migrated_app.config["HUB_SETTINGS"].database_url)
    hub_database = Path(url.database).resolve() if url.get_backend_name() == "sqlite" else None
    root = hub_database.parent if hub_database else tmp_path_factory.mktemp("root").resolve()
    instance = root / "instance"
    instance.mkdir()
    make_sqlite_file(instance / "notes.db", [(INSTANCE_MARK,)])
    outside = tmp_path_factory.mktemp("outside").resolve()
    make_sqlite_file(outside / "secret.db", [(OUTSIDE_MARK,)])
    return Layout(root, root / "queue.db", instance, outside, hub_database)


@pytest.fixture(scope="module")
def rooted_app(migrated_app, layout):
    """The hub on the same database as ``app``, its queue and instance folder under the root."""
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url, layout.instance,
                             HUB_SQLITE_ROOT=str(layout.root),
                             HUB_QUEUE_URL=f"sqlite:///{layout.queue}")
    configured = create_app(settings)
    configured.test_client_class = WatchedClient
    assert layout.queue.is_file()  # the queue made its file and tables when the hub started
    yield configured
    configured.extensions["integration_hub.request_log"].flush()
    configured.extensions["integration_hub.db"].kw["bind"].dispose()  # its connections


@pytest.fixture
def hub(app, rooted_app):
    return rooted_app.test_client()


@pytest.fixture
def mallory(make_caller):
    """A plain user who may create integrations: hostile up to that grant."""
    return make_caller("mallory", permissions=["integrations.create"])


@pytest.fixture
def data_folder(layout) -> Path:
    """The folder under the root for files integrations may read (made by whichever test of
    the module needs it first: with parallel workers, any of them may run first)."""
    folder = layout.root / "data"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def vault(data_folder) -> Iterator[Path]:
    """A SQLite file under the root that integrations may read."""
    folder = data_folder
    path = make_sqlite_file(folder / f"vault-{secrets.token_hex(4)}.db", VAULT_ROWS)
    yield path
    for leftover in folder.glob(path.name + "*"):
        leftover.unlink()


@pytest.fixture
def stored(rooted_app, mallory, vault):
    """Factory: a SQLite integration of mallory's whose path was stored without today's checks
    (an older hub stored it, or the files changed since): made with ``vault``, then re-pointed
    in the database directly."""

    def store(path: str) -> str:
        with rooted_app.app_context(), rooted_app.extensions["integration_hub.db"]() as session:
            owner = identity.get_user(session, mallory.tenant, mallory.username)
            integration = factories.integration(
                session, owner, f"Stored {secrets.token_hex(3)}", type="sqlite", auth_type="none",
                mode="shared", api_base_uri=None, data={"path": str(vault)})
            integration.data = {"path": path}
            session.commit()
            return integration.id

    return store


@pytest.fixture
def made_links(layout) -> Iterator[list[Path]]:
    made: list[Path] = []
    yield made
    for link in made:
        link.unlink(missing_ok=True)


# -- helpers ---------------------------------------------------------------------------------------

def create_sqlite(client, caller, path: str):
    return client.post("/api/integrations", headers=caller.headers, json={
        "name": f"File {secrets.token_hex(3)}", "type": "sqlite", "authType": "none",
        "mode": "shared", "data": {"path": path}})


def query(client, caller, integration: str, sql: str, **body):
    return client.post(f"/api/integrations/{integration}/query", headers=caller.headers,
                       json={"sql": sql, **body})


def shown(answer) -> str:
    return f"{answer.status_code} {answer.get_data(as_text=True)[:600]}"


def ok(answer) -> dict:
    assert answer.status_code == 200, shown(answer)
    return answer.get_json()


def problem(answer, status: int, *codes: str) -> dict:
    assert answer.status_code == status, shown(answer)
    assert answer.mimetype == "application/problem+json", answer.mimetype
    body = answer.get_json()
    assert body["code"] in codes, shown(answer)
    return body


def fingerprint(path: Path) -> dict[str, str]:
    """The bytes of a SQLite file and of its journal and WAL, when there are any."""
    found = {}
    for name in (path.name, f"{path.name}-wal", f"{path.name}-journal"):
        part = path.with_name(name)
        found[name] = hashlib.sha256(part.read_bytes()).hexdigest() if part.exists() else "none"
    return found


def read_only(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute(sql, params).fetchall()


def escaped(target: Path, root: Path) -> str:
    """The attack's path: relative to a folder under the root, every ``..`` percent-encoded,
    and a URI query that asks for read-write."""
    relative = os.path.relpath(target, root / "in")
    parts = ["%2e%2e" if part == ".." else part for part in Path(relative).parts]
    return "in/" + "/".join(parts) + "?mode=rw&x="


@dataclass(frozen=True)
class Target:
    name: str
    path: Path
    read: str        # a query that reads what the attacker wants
    mark: str | None  # a value that must never appear in an answer
    write: str       # a statement that would change the file

    def state(self):
        """The file's bytes; for the hub's database, which the hub itself writes meanwhile
        (integrations, tokens), the rows the attack is after."""
        if self.name == "hub database":
            return read_only(self.path, "SELECT tenant_id, username, superuser, permissions, "
                                        "password_hash FROM users ORDER BY id")
        return fingerprint(self.path)


def targets(layout: Layout, hub_files_only: bool = False) -> list[Target]:
    found = [
        Target("queue", layout.queue, "SELECT count(*) AS n, max(id) AS last FROM task", None,
               "WITH a AS (SELECT 1) INSERT INTO task (queue, data, priority) "
               "SELECT 'integration-hub', x'80049500', 0 FROM a"),
        Target("instance file", layout.instance / "notes.db", "SELECT secret FROM vault",
               INSTANCE_MARK, "WITH a AS (SELECT 1) INSERT INTO vault SELECT 'intruder' FROM a"),
    ]
    if layout.hub_database:
        found.append(Target(
            "hub database", layout.hub_database, "SELECT username, password_hash FROM users", None,
            "WITH a AS (SELECT 1) UPDATE users SET superuser = 1 WHERE username = 'mallory'"))
    if not hub_files_only:
        found.append(Target("outside file", layout.outside / "secret.db", "SELECT secret FROM vault",
                            OUTSIDE_MARK,
                            "WITH a AS (SELECT 1) INSERT INTO vault SELECT 'intruder' FROM a"))
    return found


def is_superuser(app, caller) -> bool:
    with app.app_context(), app.extensions["integration_hub.db"]() as session:
        return identity.get_user(session, caller.tenant, caller.username).superuser


# -- paths -----------------------------------------------------------------------------------------

FORMS = ["percent-encoded", "absolute", "symlink", "hardlink"]


@pytest.mark.parametrize("form", FORMS)
def test_paths_to_the_hubs_files_or_out_of_the_root_are_refused_and_nothing_changes(
        hub, rooted_app, layout, mallory, stored, made_links, form):
    for target in targets(layout, hub_files_only=form == "hardlink"):
        if form == "percent-encoded":
            path = escaped(target.path, layout.root)
        elif form == "absolute":
            path = str(target.path)
        else:
            link = layout.root / f"{form}-{secrets.token_hex(4)}.db"
            if form == "symlink":
                link.symlink_to(target.path)
            else:  # a second name of the same file
                os.link(target.path, link)
            made_links.append(link)
            path = str(link)
        before = target.state()

        created = create_sqlite(hub, mallory, path)
        integrations = [stored(path)]
        if created.status_code == 201:
            # only a name that means a file of its own, under the root: it does not exist
            assert form == "percent-encoded", f"{target.name}: {shown(created)}"
            assert not (layout.root / path).exists()
            integrations.append(created.get_json()["id"])
        else:
            problem(created, 422, *PATH_CODES)

        for integration in integrations:
            read = query(hub, mallory, integration, target.read)
            assert read.status_code != 200, f"{target.name} via {path!r}: {shown(read)}"
            if target.mark:
                assert target.mark not in read.get_data(as_text=True)
            if form == "percent-encoded":  # a literal name under the root: no such file
                problem(read, 502, "database_unreachable")
            else:
                problem(read, 422, *PATH_CODES)
            for sql in ("PRAGMA query_only = OFF", target.write):
                answer = query(hub, mallory, integration, sql)
                assert answer.status_code in (422, 502), f"{target.name}: {shown(answer)}"

        assert target.state() == before, f"{target.name} was changed via {path!r}"
        assert not is_superuser(rooted_app, mallory)


def test_the_hubs_files_are_refused_under_the_root_with_their_own_code(
        hub, layout, mallory, vault):
    created = create_sqlite(hub, mallory, str(vault))
    assert created.status_code == 201, shown(created)
    integration = created.get_json()["id"]
    for target in targets(layout, hub_files_only=True):
        before = target.state()
        answer = problem(create_sqlite(hub, mallory, str(target.path)), 422, "sqlite_path_hub_file")
        assert answer["errors"]["data.path"]
        moved = hub.patch(f"/api/integrations/{integration}", headers=mallory.headers,
                          json={"data": {"path": os.path.relpath(target.path, layout.root)}})
        problem(moved, 422, "sqlite_path_hub_file")
        assert target.state() == before
    # the integration still reads its own file
    assert ok(query(hub, mallory, integration, "SELECT count(*) AS n FROM vault"))["rows"] == [[2]]


# Every way an integration can be a SQLite database: the queries open its file, so saving
# must check the path for each of them (a generic database integration of another type
# used to be saved with any path).
SQLITE_SHAPES = {
    "catalogue-type": {"type": "sqlite"},
    "generic-database": {"type": "database", "data": {"dialect": "sqlite"}},
    "database-category": {"type": "warehouse", "category": "database",
                          "data": {"dialect": "sqlite"}},
}


@pytest.mark.parametrize("shape", SQLITE_SHAPES)
def test_every_kind_of_sqlite_integration_has_its_path_checked_on_saving(
        hub, layout, mallory, vault, shape):
    given = SQLITE_SHAPES[shape]

    def body(path: str) -> dict:
        return {"name": f"File {secrets.token_hex(3)}", "authType": "none", "mode": "shared",
                **given, "data": {**given.get("data", {}), "path": path}}

    created = hub.post("/api/integrations", headers=mallory.headers, json=body(str(vault)))
    assert created.status_code == 201, shown(created)
    integration = created.get_json()["id"]
    assert ok(query(hub, mallory, integration, "SELECT count(*) FROM vault"))["rows"] == [[2]]
    for target in targets(layout):
        problem(hub.post("/api/integrations", headers=mallory.headers,
                         json=body(str(target.path))), 422, *PATH_CODES)
        moved = hub.patch(f"/api/integrations/{integration}", headers=mallory.headers,
                          json={"data": body(str(target.path))["data"]})
        problem(moved, 422, *PATH_CODES)
    assert ok(query(hub, mallory, integration, "SELECT count(*) FROM vault"))["rows"] == [[2]]


def test_a_folder_or_a_missing_root_is_refused(hub, layout, data_folder, mallory, client, admin):
    folder = problem(create_sqlite(hub, mallory, str(data_folder)), 422,
                     "sqlite_path_not_a_file")
    assert folder["errors"]["data.path"]
    problem(create_sqlite(hub, mallory, str(layout.root)), 422, "sqlite_path_not_a_file")
    # the plain app has no HUB_SQLITE_ROOT: no SQLite integrations at all
    problem(create_sqlite(client, admin, str(layout.root / "data" / "x.db")), 422,
            "sqlite_path_outside_root")


# -- only reading ----------------------------------------------------------------------------------

REFUSED = {
    "pragma-query-only-off": ("PRAGMA query_only = OFF", NOT_READ_ONLY, "query_only"),
    "pragma-writable-schema": ("PRAGMA writable_schema = ON", NOT_READ_ONLY, "writable_schema"),
    "pragma-journal-mode": ("PRAGMA journal_mode = DELETE", NOT_READ_ONLY, "journal_mode"),
    "pragma-user-version": ("PRAGMA user_version = 7", NOT_READ_ONLY, "user_version"),
    "pragma-case-sensitive-like": ("PRAGMA case_sensitive_like = ON", NOT_READ_ONLY,
                                   "case_sensitive_like"),
    "with-insert": ("WITH a AS (SELECT 1) INSERT INTO vault SELECT 'intruder' FROM a",
                    NOT_READ_ONLY, "INSERT"),
    "with-update": ("WITH a AS (SELECT 1) UPDATE vault SET secret = 'hacked'", NOT_READ_ONLY,
                    "UPDATE"),
    "with-delete": ("WITH a AS (SELECT 1) DELETE FROM vault", NOT_READ_ONLY, "DELETE"),
    "create-temp-table": ("CREATE TEMP TABLE kept AS SELECT 1 AS x", NOT_READ_ONLY, "schema"),
    "create-index": ("CREATE INDEX kept ON vault (secret)", NOT_READ_ONLY, "schema"),
    "begin-immediate": ("BEGIN IMMEDIATE", NOT_READ_ONLY, "BEGIN"),
    "savepoint": ("SAVEPOINT kept", NOT_READ_ONLY, "SAVEPOINT"),
    "attach-queue": ("ATTACH DATABASE '{queue}' AS q", NOT_READ_ONLY, "ATTACH"),
    "attach-uri-rwc": ("ATTACH DATABASE 'file:{made}?mode=rwc' AS made", NOT_READ_ONLY, "ATTACH"),
    "vacuum-into": ("VACUUM INTO '{made}'", NOT_READ_ONLY, "ATTACH"),
    "reindex": ("REINDEX", NOT_READ_ONLY, "REINDEX"),
    "analyze": ("ANALYZE", NOT_READ_ONLY, "schema"),
    "load-extension": ("SELECT load_extension('{made}')", FUNCTION_REFUSED, "load_extension"),
    "fts3-tokenizer-read": ("SELECT hex(fts3_tokenizer('simple')) AS pointer", FUNCTION_REFUSED,
                            "fts3_tokenizer"),
    "fts3-tokenizer-write": ("SELECT fts3_tokenizer('simple', x'4141414141414141') AS t",
                             FUNCTION_REFUSED, "fts3_tokenizer"),
    # SQLite itself keeps fts3_tokenizer and load_extension out of views: another function
    "in-a-view-of-the-file": ("SELECT * FROM logging_view", FUNCTION_REFUSED, "sqlite_log"),
}


def test_anything_but_reading_is_refused_and_no_state_survives(hub, layout, mallory, vault):
    """All on one integration, one statement after the other: whatever a statement did to its
    connection would show in the next."""
    with contextlib.closing(sqlite3.connect(vault)) as db, db:  # what the file itself brings
        db.execute("CREATE VIEW logging_view AS SELECT sqlite_log(1, 'from the file') AS logged")
        db.execute("CREATE INDEX vault_secret ON vault (secret)")
    made = layout.root / f"made-{secrets.token_hex(4)}.db"
    queue_before, before = fingerprint(layout.queue), fingerprint(vault)
    created = create_sqlite(hub, mallory, str(vault))
    assert created.status_code == 201, shown(created)
    integration = created.get_json()["id"]

    for case, (sql, code, named) in REFUSED.items():
        answer = query(hub, mallory, integration, sql.format(queue=layout.queue, made=made))
        assert answer.status_code == 422, f"{case}: {shown(answer)}"
        refused = problem(answer, 422, code)
        assert named.lower() in refused["detail"].lower(), f"{case}: {refused['detail']}"
        # the next query on the same integration: still read-only, nothing of the last one left
        again = query(hub, mallory, integration,
                      "WITH a AS (SELECT 1) INSERT INTO vault SELECT 'intruder' FROM a")
        assert again.status_code == 422, f"after {case}: {shown(again)}"
        problem(again, 422, NOT_READ_ONLY)
        after = ok(query(hub, mallory, integration,
                         "SELECT 'a' LIKE 'A' AS folded, count(*) AS n FROM vault"))
        assert after["rows"] == [[1, len(VAULT_ROWS)]], f"after {case}: {after['rows']}"
        attached = query(hub, mallory, integration, "SELECT count(*) AS n FROM q.task")
        assert attached.status_code == 422, f"after {case}: {shown(attached)}"
        problem(attached, 422, "query_failed")  # no such table: nothing stayed attached

        assert fingerprint(vault) == before, case
        assert fingerprint(layout.queue) == queue_before, case
        assert not made.exists(), case
    assert read_only(vault, "SELECT secret FROM vault ORDER BY rowid") == VAULT_ROWS


READS = {
    "plain": ("SELECT secret FROM vault ORDER BY rowid", {}, [[VAULT_MARK], ["second"]]),
    "params": ("SELECT secret FROM vault WHERE secret = :s", {"s": "second"}, [["second"]]),
    "aggregate": ("SELECT count(*), group_concat(secret, '|') FROM vault", {},
                  [[2, f"{VAULT_MARK}|second"]]),
    "window": ("SELECT secret, row_number() OVER (ORDER BY secret DESC) FROM vault", {},
               [["vault-row", 1], ["second", 2]]),
    "recursive": ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3) "
                  "SELECT sum(x) FROM c", {}, [[6]]),
    "json": ("SELECT json_extract('{\"a\": [1, 2]}', '$.a[1]'), '{\"b\": 3}' ->> '$.b'", {},
             [[2, 3]]),
    "json-each": ("SELECT value FROM json_each('[4, 5]') ORDER BY value", {}, [[4], [5]]),
    "table-valued-pragma": ("SELECT name FROM pragma_table_info('vault')", {}, [["secret"]]),
    "dates-and-text": ("SELECT date('2024-02-28', '+1 day'), upper(substr('hub', 1, 2)), "
                       "printf('%05.1f', 3.14159), abs(-2), round(2.5), coalesce(NULL, 'x')", {},
                       [["2024-02-29", "HU", "003.1", 2, 3.0, "x"]]),
    "schema-table": ("SELECT name FROM sqlite_master WHERE type = 'table'", {}, [["vault"]]),
}


def test_reading_still_works(hub, mallory, vault):
    created = create_sqlite(hub, mallory, str(vault))
    assert created.status_code == 201, shown(created)
    integration = created.get_json()["id"]
    for case, (sql, params, rows) in READS.items():
        answer = query(hub, mallory, integration, sql, params=params)
        assert answer.status_code == 200, f"{case}: {shown(answer)}"
        assert answer.get_json()["rows"] == rows, case


def test_schema_and_test_endpoints_still_work(hub, mallory, vault):
    integration = create_sqlite(hub, mallory, str(vault)).get_json()["id"]
    schema = ok(hub.get(f"/api/integrations/{integration}/schema", headers=mallory.headers))
    assert schema["schemas"] == ["main"]
    assert schema["tables"] == [{"schema": "main", "name": "vault", "kind": "table", "columns": [
        {"name": "secret", "type": "text", "nullable": True}], "primaryKey": [],
        "foreignKeys": [], "indexes": []}]
    checked = ok(hub.post(f"/api/integrations/{integration}/test", headers=mallory.headers))
    assert checked["ok"] is True, checked


# -- virtual tables of the file ---------------------------------------------------------------------

@pytest.fixture
def indexed(vault) -> Path:
    """The vault with an FTS5 full-text table and an R*Tree table (with an auxiliary column,
    whose statements include an UPDATE). A SQLite built without either module fails the test
    under HUB_REQUIRE_ALL=1: these reads are what the test is about."""
    with contextlib.closing(sqlite3.connect(vault)) as db, db:
        for module, statement in (
                ("fts5", "CREATE VIRTUAL TABLE docs USING fts5(title, body)"),
                ("rtree", "CREATE VIRTUAL TABLE boxes USING rtree(id, min_x, max_x, min_y, "
                          "max_y, +label)")):
            try:
                db.execute(statement)
            except sqlite3.OperationalError as missing:
                missing_component(f"this SQLite has no {module} module: {missing}")
        db.executemany("INSERT INTO docs VALUES (?, ?)", [
            ("hub", "a self-hosted integration hub"), ("other", "nothing to see here")])
        db.executemany("INSERT INTO boxes VALUES (?, ?, ?, ?, ?, ?)", [
            (1, 0, 10, 0, 10, "near"), (2, 20, 30, 20, 30, "far")])
    return vault


VIRTUAL_READS = {
    "fts5-match": "SELECT title FROM docs WHERE docs MATCH 'hub'",
    "fts5-prefix-and-rank": "SELECT title FROM docs WHERE docs MATCH 'hu* OR noth*' "
                            "ORDER BY rank, title",
    "fts5-helpers": "SELECT highlight(docs, 1, '[', ']'), snippet(docs, 1, '<', '>', '…', 3), "
                    "bm25(docs) < 0 FROM docs WHERE docs MATCH 'integration'",
    "fts5-whole-table": "SELECT title, body FROM docs ORDER BY rowid",
    "rtree-window": "SELECT id, label FROM boxes WHERE min_x >= 0 AND max_x <= 15",
    "rtree-whole-table": "SELECT id, min_x, max_y, label FROM boxes ORDER BY id",
    "rtree-join": "SELECT b.id, v.secret FROM boxes b JOIN vault v ON b.id = 1 ORDER BY v.rowid",
    "shadow-table": "SELECT count(*) FROM boxes_node",
}

VIRTUAL_WRITES = {
    "fts5-insert": "INSERT INTO docs VALUES ('new', 'row')",
    "fts5-delete": "DELETE FROM docs",
    "fts5-optimize": "INSERT INTO docs(docs) VALUES ('optimize')",
    "fts5-delete-all": "INSERT INTO docs(docs) VALUES ('delete-all')",
    "fts5-setting": "INSERT INTO docs(docs, rank) VALUES ('pgsz', 64)",
    "fts5-shadow-delete": "DELETE FROM docs_data",
    "rtree-insert": "INSERT INTO boxes VALUES (3, 1, 2, 3, 4, 'new')",
    "rtree-update": "UPDATE boxes SET label = 'moved' WHERE id = 1",
    "rtree-delete": "DELETE FROM boxes",
    "rtree-shadow-insert": "INSERT INTO boxes_node VALUES (9, x'00')",
    "rtree-shadow-update": "UPDATE boxes_rowid SET a0 = 'moved'",
    "rtree-shadow-delete": "DELETE FROM boxes_node",
    "rtree-shadow-with-insert": "WITH a AS (SELECT 1) INSERT INTO boxes_parent SELECT 5, 6 FROM a",
    "drop-virtual-table": "DROP TABLE docs",
}


def test_full_text_and_rtree_tables_can_be_read_not_changed(hub, mallory, indexed):
    """FTS5 opens only after reading PRAGMA data_version; an R*Tree prepares its own writing
    statements on its shadow tables when it is first read. Both were refused, so neither
    kind of table could be read through the hub."""
    before = fingerprint(indexed)
    created = create_sqlite(hub, mallory, str(indexed))
    assert created.status_code == 201, shown(created)
    integration = created.get_json()["id"]

    for case, sql in VIRTUAL_READS.items():
        answer = query(hub, mallory, integration, sql)
        assert answer.status_code == 200, f"{case}: {shown(answer)}"
        direct = [list(row) for row in read_only(indexed, sql)]  # SQLite's own answer
        assert direct and answer.get_json()["rows"] == direct, case

    for case, sql in VIRTUAL_WRITES.items():
        answer = query(hub, mallory, integration, sql)
        assert answer.status_code == 422, f"{case}: {shown(answer)}"
        problem(answer, 422, NOT_READ_ONLY)
        assert fingerprint(indexed) == before, case
    for case, (sql, code, named) in REFUSED.items():  # still refused with the tables open
        if "{" in sql or "logging_view" in sql:  # needs a path, or a view this file lacks
            continue
        refused = problem(query(hub, mallory, integration, sql), 422, code)
        assert named.lower() in refused["detail"].lower(), f"{case}: {refused['detail']}"
    assert ok(query(hub, mallory, integration, "SELECT id, label FROM boxes ORDER BY id"))[
        "rows"] == [[1, "near"], [2, "far"]]
    assert fingerprint(indexed) == before
    assert read_only(indexed, "SELECT count(*) FROM docs WHERE docs MATCH 'hub OR nothing'") \
        == [(2,)]


ODD_NAMES = ["with space.db", "100%.db", "%41%2e%2e.db", "what?mode=rw&x=.db", "hash#part.db",
             "a ?b#c%20d.db", "ünïcödé ✓.db", "dir with space/%2e%2e/inner?mode=rwc.db"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_files_with_odd_characters_in_their_names_are_read_as_named(hub, layout, mallory, name):
    folder = layout.root / f"odd-{secrets.token_hex(4)}"
    path = folder / name
    path.parent.mkdir(parents=True)
    mark = f"odd-{secrets.token_hex(4)}"
    make_sqlite_file(path, [(mark,)])
    try:
        before = fingerprint(path)
        for given in (str(path), os.path.relpath(path, layout.root)):
            created = create_sqlite(hub, mallory, given)
            assert created.status_code == 201, f"{given!r}: {shown(created)}"
            integration = created.get_json()["id"]
            read = query(hub, mallory, integration, "SELECT secret FROM vault")
            assert read.status_code == 200, f"{given!r}: {shown(read)}"
            assert read.get_json()["rows"] == [[mark]]
            problem(query(hub, mallory, integration, "DELETE FROM vault"), 422, NOT_READ_ONLY)
        assert fingerprint(path) == before
        assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    finally:
        for made in sorted(folder.rglob("*"), reverse=True):
            made.rmdir() if made.is_dir() else made.unlink()
        folder.rmdir()
