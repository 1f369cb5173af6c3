"""Database drivers take only the options the hub allows, and never act for the server.

An integration's ``data.options`` reach the database driver. Left open they let a user with
write access turn the hub against itself: PyMySQL's ``local_infile`` sends the server any file
the hub can read (``/proc/self/environ`` holds the hub's keys), ``init_command`` runs a
statement outside the read-only transaction, ``host`` or ``unix_socket`` reach another server
with the stored password. Options are an allow-list per dialect, checked when an integration
is saved and again when it is used (rows stored before the rule was there).

The MySQL server here is a fake of our own (tests/support/fake_mysql.py) that asks every client
for a file; the other tests use the real PostgreSQL and MariaDB servers. Pooled MySQL sessions
go back clean (``sql_mode``, user variables, named locks), and a server that accepts the
connection and then says nothing ends in a 504 instead of holding a worker forever.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from contextlib import closing

import pytest
from sqlalchemy import update

from integration_hub.db.models import Integration
from integration_hub.identity import directory as identity
from tests import factories
from tests.conftest import missing_component
from tests.secret_watch import WATCH
from tests.support.databases import Target, TargetUnavailable, _mysql_admin, create_target
from tests.support.fake_mysql import FakeMysql, SilentServer
from tests.support.problems import assert_problem

REFUSED = "database_option_not_allowed"
FAKE_PASSWORD = "pw-for-the-fake-server"  # the hub logs in with a password, or not at all


# -- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    """Factory: a seeded PostgreSQL or MariaDB target database of this module."""
    made: dict[str, Target | TargetUnavailable] = {}

    def get(dialect: str) -> Target:
        if dialect not in made:
            try:
                made[dialect] = create_target(dialect, tmp_path_factory.mktemp("unused"))
            except TargetUnavailable as exc:
                made[dialect] = exc
            else:
                WATCH.remember([made[dialect].password, made[dialect].reader_password])
        found = made[dialect]
        if isinstance(found, TargetUnavailable):
            missing_component(str(found))
        return found

    yield get
    for found in made.values():
        if isinstance(found, Target):
            found.drop()


@pytest.fixture
def make_db(app, client, admin):
    """Factory: a shared database integration made through the service (so validated) by
    ``admin``; deleted through the API afterwards, which also closes the hub's pool."""
    created: list[str] = []

    def make(type_: str, data: dict, password: str | None = None,
             shares: dict[str, int] | None = None, **values) -> str:
        values = {"type": type_, "auth_type": "none", "mode": "shared", "api_base_uri": None,
                  "data": data, **values}
        if password:
            values["credentials"] = {"password": password}
            WATCH.remember([password])
        with app.app_context(), app.extensions["integration_hub.db"]() as session:
            creator = identity.get_user(session, admin.tenant, admin.username)
            integration = factories.integration(session, creator, "Target DB", **values)
            for principal_id, level in (shares or {}).items():
                factories.share(session, integration, principal_id, level)
            session.commit()
            created.append(integration.id)
            return integration.id

    yield make
    for integration_id in created:
        client.delete(f"/api/integrations/{integration_id}?force=true", headers=admin.headers)


@pytest.fixture
def marker_file(tmp_path):
    """A file the hub can read, holding a value that must never reach a database server."""
    marker = f"hub-file-content-{secrets.token_hex(8)}"
    path = tmp_path / "environ"
    path.write_text(f"SECRET_KEY={marker}\n")
    return path, marker.encode()


def store_data(app, integration_id: str, data: dict) -> None:
    """Write ``data`` into the integration's row directly, as a row saved before the
    allow-list existed would hold it (no validation on this path)."""
    with app.app_context(), app.extensions["integration_hub.db"]() as session:
        session.execute(update(Integration).where(Integration.id == integration_id)
                        .values(data=data))
        session.commit()


def query(client, caller, integration: str, sql: str, **body):
    return client.post(f"/api/integrations/{integration}/query", headers=caller.headers,
                       json={"sql": sql, **body})


def check(client, caller, integration: str):
    return client.post(f"/api/integrations/{integration}/test", headers=caller.headers)


def answer_within(call: Callable, guard: float = 20.0):
    """``call()``'s answer; fails instead of hanging when none comes within ``guard`` s."""
    box: dict = {}

    def run() -> None:
        try:
            box["answer"] = call()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(guard)
    if worker.is_alive():
        pytest.fail(f"no answer within {guard} s: the hub is still waiting for the database")
    if "error" in box:
        raise box["error"]
    return box["answer"]


def fake_data(server, **options) -> dict:
    data = {"host": server.host, "port": server.port, "database": "shop", "username": "reader"}
    if options:
        data["options"] = options
    return data


def refused_option(answer, name: str) -> dict:
    body = assert_problem(answer, 422, REFUSED)
    assert name in body["detail"], body
    assert f"data.options.{name}" in body.get("errors", {}), body
    return body


# -- saving: only allow-listed options --------------------------------------------------------

OUTSIDE_THE_LIST = [
    ("mysql", "local_infile", "true"),
    ("mysql", "local_infile", True),
    ("mysql", "init_command", "CREATE TABLE hub_evil (x int)"),
    ("mysql", "read_default_file", "/etc/mysql/debian.cnf"),
    ("mysql", "unix_socket", "/run/mysqld/mysqld.sock"),
    ("mysql", "client_flag", 128),
    ("mysql", "host", "10.0.0.9"),
    ("mysql", "ssl_ca", "/proc/self/environ"),
    ("postgresql", "options", "-c default_transaction_read_only=off"),
    ("postgresql", "passfile", "/root/.pgpass"),
    ("postgresql", "service", "admin"),
    ("postgresql", "host", "10.0.0.9"),
    ("postgresql", "sslkey", "/proc/self/environ"),
    ("database", "local_infile", "1"),
]


@pytest.mark.parametrize(("type_", "name", "value"), OUTSIDE_THE_LIST,
                         ids=[f"{t}-{n}-{type(v).__name__}" for t, n, v in OUTSIDE_THE_LIST])
def test_options_outside_the_allow_list_are_refused_when_saved(client, admin, type_, name,
                                                               value):
    data = {"host": "127.0.0.1", "port": 5432, "database": "shop", "options": {name: value}}
    if type_ == "database":
        data["dialect"] = "mysql"
    created = client.post("/api/integrations", headers=admin.headers, json={
        "name": "With options", "type": type_, "authType": "none", "mode": "shared",
        "data": data})
    refused_option(created, name)
    listed = client.get("/api/integrations-list", headers=admin.headers).get_json()
    assert [i["name"] for i in listed] == []


@pytest.mark.parametrize("level, code", [(2, "field_needs_share_access"), (3, REFUSED)])
def test_no_one_with_a_share_can_add_options_later(client, admin, member, make_db, level, code):
    """A writer (level 2) may not change the options at all (they decide where the password
    goes); share access (level 3) may, within the allow-list."""
    integration = make_db("mysql", {"host": "127.0.0.1", "port": 3306, "database": "shop",
                                    "options": {"connect_timeout": 5}}, shares={"mia": level})
    for name, value in (("init_command", "CREATE TABLE hub_evil (x int)"),
                        ("local_infile", "true")):
        for method in (client.patch, client.put):
            changed = method(f"/api/integrations/{integration}", headers=member.headers,
                             json={"data": {"host": "127.0.0.1", "port": 3306, "database": "shop",
                                            "options": {"connect_timeout": 5, name: value}}})
            if code == REFUSED:
                refused_option(changed, name)
            else:
                assert_problem(changed, 403, code)
    stored = client.get(f"/api/integrations/{integration}", headers=admin.headers).get_json()
    assert stored["data"]["options"] == {"connect_timeout": 5}


BAD_VALUES = [
    ("mysql", "connect_timeout", "ten"),
    ("mysql", "connect_timeout", 0),
    ("mysql", "connect_timeout", 3600),
    ("mysql", "charset", "utf8mb4; SET GLOBAL local_infile=1"),
    ("mysql", "ssl_verify_cert", "sometimes"),
    ("postgresql", "sslmode", "bogus"),
    ("postgresql", "application_name", "x\r\nSET ROLE postgres"),
    ("postgresql", "connect_timeout", -1),
]


@pytest.mark.parametrize(("type_", "name", "value"), BAD_VALUES,
                         ids=[f"{t}-{n}-{v}" for t, n, v in BAD_VALUES])
def test_allowed_options_with_bad_values_are_refused(client, admin, type_, name, value):
    created = client.post("/api/integrations", headers=admin.headers, json={
        "name": "Bad value", "type": type_, "authType": "none", "mode": "shared",
        "data": {"host": "127.0.0.1", "database": "shop", "options": {name: value}}})
    refused_option(created, name)


@pytest.mark.parametrize(("dialect", "options", "sql", "expected"), [
    ("postgresql", {"application_name": "hub-reports", "connect_timeout": "5",
                    "sslmode": "disable"},
     "SELECT current_setting('application_name') AS v", "hub-reports"),
    ("mysql", {"charset": "utf8mb3", "connect_timeout": 5, "ssl_disabled": True},
     "SELECT @@character_set_client AS v", "utf8mb3"),
], ids=["postgresql", "mysql"])
def test_allowed_options_reach_the_driver(client, admin, make_db, targets, dialect, options,
                                          sql, expected):
    target = targets(dialect)
    integration = make_db(dialect, target.data(options=options), target.password)
    answer = query(client, admin, integration, sql)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["rows"] == [[expected]]


# -- character sets: UTF-8 only ------------------------------------------------------------------

# Each of these made the hub answer 500: psycopg hands SQL_ASCII text over as bytes, BIG5 cannot
# encode the query's own text, PyMySQL knows no Python codec for ``binary``; latin1 and the
# like turn what they cannot encode into "?" or fail the same way.
NOT_UTF8 = [
    ("postgresql", "client_encoding", "SQL_ASCII", "SELECT name FROM items"),
    ("postgresql", "client_encoding", "BIG5", "SELECT 'caf\u00e9' AS name"),
    ("postgresql", "client_encoding", "LATIN1", "SELECT name FROM items"),
    ("mysql", "charset", "binary", "SELECT name FROM items"),
    ("mysql", "charset", "latin1", "SELECT name FROM items"),
    ("mysql", "collation", "latin1_bin", "SELECT name FROM items"),
]


@pytest.mark.parametrize(("dialect", "name", "value", "sql"), NOT_UTF8,
                         ids=[f"{d}-{n}-{v}" for d, n, v, _ in NOT_UTF8])
def test_only_utf8_character_sets_reach_the_driver(app, client, admin, make_db, targets,
                                                   dialect, name, value, sql):
    created = client.post("/api/integrations", headers=admin.headers, json={
        "name": "Not UTF-8", "type": dialect, "authType": "none", "mode": "shared",
        "data": {"host": "127.0.0.1", "database": "shop", "options": {name: value}}})
    refused_option(created, name)

    target = targets(dialect)  # a row stored before the rule: refused on use, never a 500
    integration = make_db(dialect, target.data(), target.password)
    store_data(app, integration, target.data(options={name: value}))
    refused_option(query(client, admin, integration, sql), name)
    refused_option(client.get(f"/api/integrations/{integration}/schema", headers=admin.headers),
                   name)


def test_the_hubs_environment_sets_no_character_set(client, admin, make_db, targets,
                                                    monkeypatch):
    """libpq takes PGCLIENTENCODING when no client_encoding is given: the hub gives UTF8."""
    monkeypatch.setenv("PGCLIENTENCODING", "SQL_ASCII")
    target = targets("postgresql")
    integration = make_db("postgresql", target.data(), target.password)
    answer = query(client, admin, integration, "SELECT name FROM items ORDER BY id")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["rows"] == [["apple"], ["banana"], ["cherry"]]


@pytest.mark.parametrize(("dialect", "options"), [
    ("postgresql", {"client_encoding": "UTF8"}),
    ("postgresql", {"client_encoding": "unicode"}),
    ("mysql", {"charset": "utf8mb4", "collation": "utf8mb4_unicode_ci"}),
    ("mysql", {"charset": "utf8"}),
], ids=["postgresql-UTF8", "postgresql-unicode", "mysql-utf8mb4", "mysql-utf8"])
def test_utf8_character_sets_read_text_whole(client, admin, make_db, targets, dialect, options):
    target = targets(dialect)
    integration = make_db(dialect, target.data(options=options), target.password)
    answer = query(client, admin, integration, "SELECT 'caf\u00e9 \u65e5\u672c' AS v")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["rows"] == [["caf\u00e9 \u65e5\u672c"]]


# -- using: stored rows are checked again, the driver never sends files -----------------------

def test_stored_options_outside_the_list_are_refused_before_connecting(app, client, admin,
                                                                       make_db, marker_file):
    path, marker = marker_file
    with FakeMysql(str(path)) as server:
        integration = make_db("mysql", fake_data(server), FAKE_PASSWORD)
        store_data(app, integration, fake_data(server, local_infile="true"))

        for answer in (query(client, admin, integration, "SELECT 1 AS one"),
                       client.get(f"/api/integrations/{integration}/schema",
                                  headers=admin.headers),
                       check(client, admin, integration)):
            assert marker not in server.received, "the hub sent the file's content"
            refused_option(answer, "local_infile")
        assert server.connections == 0


def test_the_hub_never_sends_a_file_the_server_asks_for(client, admin, make_db, marker_file):
    """Without any option: LOCAL INFILE is off in the driver, and the request ends the
    connection with a clean problem."""
    path, marker = marker_file
    with FakeMysql(str(path)) as server:
        integration = make_db("mysql", fake_data(server), FAKE_PASSWORD)
        answer = answer_within(lambda: query(client, admin, integration, "SELECT 1 AS one"))
        assert server.infile_requests >= 1
        assert marker not in server.received and not server.file_data
        assert_problem(answer, 502, "database_unreachable")

        tested = answer_within(lambda: check(client, admin, integration))
        assert tested.status_code == 200, tested.get_data(as_text=True)
        assert tested.get_json()["ok"] is False
        assert marker not in server.received and not server.file_data


def test_a_stored_init_command_never_runs(app, client, admin, make_db, targets):
    target = targets("mysql")
    integration = make_db("mysql", target.data(), target.password)
    store_data(app, integration, target.data(options={
        "init_command": "CREATE TABLE hub_evil (x int)"}))

    refused_option(query(client, admin, integration, "SELECT 1 AS one"), "init_command")
    assert "hub_evil" not in target.tables()
    assert target.snapshot() == target.seed_snapshot


# -- a server that never answers ---------------------------------------------------------------

@pytest.mark.parametrize("dialect", ["mysql", "postgresql"])
def test_a_silent_server_ends_in_a_timeout(client, admin, make_db, dialect):
    with SilentServer() as silent:
        integration = make_db(dialect, fake_data(silent, connect_timeout=2), FAKE_PASSWORD)
        answer = answer_within(lambda: query(client, admin, integration, "SELECT 1 AS one"))
        assert silent.accepted >= 1
        assert_problem(answer, 504, "database_timeout")

        tested = answer_within(lambda: check(client, admin, integration))
        assert tested.status_code == 200, tested.get_data(as_text=True)
        assert tested.get_json()["ok"] is False
        assert tested.get_json()["code"] == "database_timeout"


# -- pooled MySQL sessions go back clean --------------------------------------------------------

def test_mysql_session_state_does_not_reach_the_next_query(client, admin, make_db, targets):
    target = targets("mysql")
    integration = make_db("mysql", target.data(), target.password)
    lock = f"hub-lock-{secrets.token_hex(4)}"

    for sql in ("SET SESSION sql_mode = 'ANSI_QUOTES'", "SET @hub_left = 'behind'"):
        answer = query(client, admin, integration, sql)
        assert answer.status_code in (200, 422), answer.get_data(as_text=True)
    got = query(client, admin, integration, "SELECT GET_LOCK(:name, 0) AS got",
                params={"name": lock})
    assert got.status_code == 200 and got.get_json()["rows"] == [[1]], got.get_data(as_text=True)

    admin_db = _mysql_admin()
    with closing(admin_db), admin_db.cursor() as cursor:
        cursor.execute("SELECT IS_USED_LOCK(%s), @@GLOBAL.sql_mode", (lock,))
        holder, global_mode = cursor.fetchone()
    assert holder is None, "a pooled connection still holds the named lock"

    after = query(client, admin, integration, "SELECT @@SESSION.sql_mode AS mode, "
                  "@hub_left AS leftover, 'quoted' AS text")
    assert after.status_code == 200, after.get_data(as_text=True)
    assert after.get_json()["rows"] == [[global_mode, None, "quoted"]]
