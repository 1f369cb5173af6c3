"""Database integrations: query, schema and test, against real PostgreSQL, MariaDB and SQLite.

The hub's own database is one axis (the ``backend`` fixture runs everything on SQLite and on
PostgreSQL); the *target* database an integration points at is another: the common behaviours
are parametrized over the target dialects. Every target is a database of its own, made once per
session (tests/support/databases.py), whose tables were created and filled by the very login user
the hub connects with: that user could write, so every refused write proves the hub itself keeps
the query read-only. After each write attempt the target is read back directly.

SQLite targets live under ``HUB_SQLITE_ROOT``; an app configured with it (``db_app``) shares the
hub's database with the ``app`` fixture, and all database calls go through it (``hub``).

See docs/decisions.md, "Database integrations".
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import pytest

from integration_hub import create_app
from integration_hub.databases import catalog
from integration_hub.identity import directory as identity
from tests import factories
from tests.conftest import make_settings, missing_component
from tests.secret_watch import WATCH, WatchedClient
from tests.support.databases import (
    ITEM_COLUMNS,
    ITEMS,
    NUMBERS,
    Target,
    TargetUnavailable,
    _pg_admin,
    closed_port,
    create_target,
    make_sqlite_file,
)

DIALECTS = ("postgresql", "mysql", "sqlite")
SERVERS = ("postgresql", "mysql")
DENIED = "query_not_read_only"
SECRET_VALUE = "top-secret-outside-value"


# -- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def sqlite_root(tmp_path_factory):
    return tmp_path_factory.mktemp("sqlite-root").resolve()


@pytest.fixture(scope="session")
def outside_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("outside").resolve()


@pytest.fixture(scope="session")
def targets(sqlite_root):
    """Factory: the session's seeded target of a dialect (made on first use, dropped at the end)."""
    made: dict[str, Target | TargetUnavailable] = {}

    def get(dialect: str) -> Target:
        if dialect not in made:
            try:
                made[dialect] = create_target(dialect, sqlite_root)
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


@pytest.fixture(params=DIALECTS)
def target(request, targets) -> Target:
    """The target of each dialect in turn; restored to its seed if a test changed it."""
    found = targets(request.param)
    yield found
    if found.snapshot() != found.seed_snapshot:
        found.reseed()


@pytest.fixture(scope="session")
def db_app(migrated_app, sqlite_root, tmp_path_factory):
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url,
                             tmp_path_factory.mktemp("instance"), HUB_SQLITE_ROOT=str(sqlite_root))
    configured = create_app(settings)
    configured.test_client_class = WatchedClient
    return configured


@pytest.fixture
def hub(app, db_app):
    """A client of the hub with HUB_SQLITE_ROOT set (same database as ``client``)."""
    return db_app.test_client()


@pytest.fixture
def make_db(db_app, hub, admin):
    """Factory: an integration of ``target`` created by ``admin`` (shared mode, the target's owner
    user unless overridden); deleted through the API afterwards, so the hub drops its pool."""
    created: list[str] = []

    def make(target: Target, name: str = "Target DB", shares: dict[str, int] | None = None,
             **values) -> str:
        values = target.integration_values(**values)
        WATCH.remember([values.get("credentials")])
        with db_app.app_context(), db_app.extensions["integration_hub.db"]() as session:
            creator = identity.get_user(session, admin.tenant, admin.username)
            integration = factories.integration(session, creator, name, **values)
            for principal_id, level in (shares or {}).items():
                factories.share(session, integration, principal_id, level)
            session.commit()
            created.append(integration.id)
            return integration.id

    yield make
    for integration_id in created:
        hub.delete(f"/api/integrations/{integration_id}?force=true", headers=admin.headers)


@pytest.fixture
def outside_secret(outside_dir):
    """A SQLite file outside HUB_SQLITE_ROOT holding SECRET_VALUE."""
    path = make_sqlite_file(outside_dir / f"secret-{secrets.token_hex(4)}.db", [(SECRET_VALUE,)])
    yield path
    path.unlink(missing_ok=True)


# -- helpers -------------------------------------------------------------------------------------

def query(client, caller, integration: str, sql: str, **body):
    return client.post(f"/api/integrations/{integration}/query", headers=caller.headers,
                       json={"sql": sql, **body})


def schema_of(client, caller, integration: str):
    return client.get(f"/api/integrations/{integration}/schema", headers=caller.headers)


def check(client, caller, integration: str):
    return client.post(f"/api/integrations/{integration}/test", headers=caller.headers)


def shown(answer) -> str:
    """The answer's body for a failure message (HAL links left out)."""
    body = answer.get_json(silent=True)
    if isinstance(body, dict):
        body = {key: value for key, value in body.items() if key != "_links"}
    return f"{answer.status_code} {str(body if body is not None else answer.get_data(as_text=True))[:600]}"


def ok(answer) -> dict:
    assert answer.status_code == 200, shown(answer)
    return answer.get_json()


def problem(answer, status: int, *codes: str) -> dict:
    text = shown(answer)
    assert answer.status_code == status, text
    assert answer.mimetype == "application/problem+json", answer.mimetype
    body = answer.get_json()
    assert body["code"] in codes, text
    return body


def timed(call: Callable, guard: float = 20.0):
    """(answer, seconds) of ``call()``; fails instead of hanging when no answer comes in time."""
    box: dict = {}

    def run() -> None:
        started = time.monotonic()
        try:
            box["answer"] = call()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc
        box["elapsed"] = time.monotonic() - started

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(guard)
    if worker.is_alive():
        pytest.fail(f"no answer within {guard} s: the hub did not stop the query")
    if "error" in box:
        raise box["error"]
    return box["answer"], box["elapsed"]


def eventually(probe: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if probe():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


class AnyOf:
    """Matches a value equal to one of the options, with the same JSON type."""

    def __init__(self, *options):
        self.options = options

    def matches(self, actual) -> bool:
        return any(same(actual, option) for option in self.options)

    def __repr__(self) -> str:
        return "any of " + ", ".join(map(repr, self.options))


class Prefix:
    def __init__(self, prefix: str):
        self.prefix = prefix

    def matches(self, actual) -> bool:
        return isinstance(actual, str) and actual.startswith(self.prefix)

    def __repr__(self) -> str:
        return f"a string starting {self.prefix!r}"


class SameNumber:
    """SQLite has no decimal type (NUMERIC keeps 12.5 as a REAL, 100.00 as an INTEGER): any
    number or numeric string of the same value is right there."""

    def __init__(self, text: str):
        self.value = Decimal(text)

    def matches(self, actual) -> bool:
        if isinstance(actual, bool) or not isinstance(actual, int | float | str):
            return False
        try:
            return Decimal(str(actual)) == self.value
        except InvalidOperation:
            return False

    def __repr__(self) -> str:
        return f"the number {self.value}"


def same(actual, expected) -> bool:
    if hasattr(expected, "matches"):
        return expected.matches(actual)
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(same(a, e) for a, e in zip(actual, expected, strict=True)))
    return type(actual) is type(expected) and actual == expected


def assert_rows(actual: list, expected: list) -> None:
    assert isinstance(actual, list) and len(actual) == len(expected), actual
    for number, (row, wanted) in enumerate(zip(actual, expected, strict=True)):
        assert isinstance(row, list) and len(row) == len(wanted), f"row {number}: {row!r}"
        for column, (value, right) in enumerate(zip(row, wanted, strict=True)):
            assert same(value, right), f"row {number} column {column}: {value!r} is not {right!r}"


def expected_items(dialect: str) -> list[list]:
    """The seed rows as the hub must answer them (JSON-safe values)."""
    rows = []
    for id_, name, price, active, born, seen, payload, note in ITEMS:
        stamp = seen.isoformat()  # 2024-01-31T10:20:30
        rows.append([
            id_,
            name,
            SameNumber(str(price)) if dialect == "sqlite" else str(price),  # Decimal -> "12.50"
            active if dialect == "postgresql" else AnyOf(active, int(active)),  # MariaDB: 0/1
            born.isoformat(),
            (AnyOf(Prefix(stamp), Prefix(seen.isoformat(sep=" "))) if dialect == "sqlite"
             else Prefix(stamp)),
            base64.b64encode(payload).decode(),
            note,
        ])
    return rows


def expected_types(dialect: str) -> list:
    if dialect == "sqlite":  # only what the stored values say
        return ["integer", "string", AnyOf("decimal", "number"), AnyOf("boolean", "integer"),
                AnyOf("date", "string"), AnyOf("datetime", "string"), "binary", "string"]
    return ["integer", "string", "decimal",
            "boolean" if dialect == "postgresql" else AnyOf("boolean", "integer"),
            "date", "datetime", "binary", "string"]


def who_am_i(dialect: str) -> str:
    return "SELECT CURRENT_USER() AS who" if dialect == "mysql" else "SELECT current_user AS who"


def user_name(dialect: str, who: str) -> str:
    return who.split("@")[0] if dialect == "mysql" else who  # MariaDB: user@host


def without_username(target: Target) -> dict:
    return {key: value for key, value in target.data().items() if key != "username"}


# -- reading ---------------------------------------------------------------------------------------

def test_select_with_named_params(hub, make_db, target, admin):
    integration = make_db(target)

    answer = ok(query(hub, admin, integration, "SELECT name, id FROM items WHERE id = :id",
                      params={"id": 2}))
    assert [c["name"] for c in answer["columns"]] == ["name", "id"]
    assert answer["rows"] == [["banana", 2]]
    assert answer["rowCount"] == 1 and answer["truncated"] is False

    injected = ok(query(hub, admin, integration, "SELECT id FROM items WHERE name = :name",
                        params={"name": "apple' OR '1'='1"}))
    assert injected["rows"] == [] and injected["rowCount"] == 0

    patterns = ok(query(hub, admin, integration,
                        "SELECT name FROM items WHERE name LIKE :pattern OR name LIKE 'c%' "
                        "ORDER BY id", params={"pattern": "b%"}))
    assert patterns["rows"] == [["banana"], ["cherry"]]
    literal = ok(query(hub, admin, integration, "SELECT name, '100%' AS pct FROM items "
                                                "WHERE name LIKE 'a%'"))
    assert literal["rows"] == [["apple", "100%"]]

    echoed = ok(query(hub, admin, integration, "SELECT :text AS echo",
                      params={"text": "100% sure; DROP TABLE items, Zoë ✓"}))
    assert echoed["rows"] == [["100% sure; DROP TABLE items, Zoë ✓"]]
    assert target.snapshot() == target.seed_snapshot


def test_query_is_another_name_for_sql(hub, make_db, target, admin):
    integration = make_db(target)

    answer = hub.post(f"/api/integrations/{integration}/query", headers=admin.headers,
                      json={"query": "SELECT name FROM items WHERE id = :id", "params": {"id": 2}})

    assert ok(answer)["rows"] == [["banana"]]


def test_rows_as_objects_by_column_name(hub, make_db, target, admin):
    integration = make_db(target)

    answer = ok(query(hub, admin, integration, "SELECT id, name, NULL AS no_value FROM items "
                                               "ORDER BY id", rowFormat="objects", limit=2))

    assert answer["rows"] == [{"id": 1, "name": "apple", "no_value": None},
                              {"id": 2, "name": "banana", "no_value": None}]
    assert [c["name"] for c in answer["columns"]] == ["id", "name", "no_value"]
    assert answer["rowCount"] == 2 and answer["truncated"] is True
    arrays = ok(query(hub, admin, integration, "SELECT id, name FROM items ORDER BY id",
                      rowFormat="arrays", limit=1))
    assert arrays["rows"] == [[1, "apple"]]


def test_two_columns_of_one_name_are_refused_as_objects_but_not_as_arrays(hub, make_db, target,
                                                                          admin):
    integration = make_db(target)
    sql = "SELECT id AS same, name AS same FROM items ORDER BY id"

    refused = query(hub, admin, integration, sql, rowFormat="objects")
    problem(refused, 422, "query_columns_not_unique")
    assert ok(query(hub, admin, integration, sql, limit=1))["rows"] == [[1, "apple"]]


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
@pytest.mark.parametrize("body, field", [
    ({"sql": "SELECT 1", "query": "SELECT 2"}, "query"),
    ({"params": {}}, "sql"),
    ({"sql": "SELECT 1", "rowFormat": "columns"}, "rowFormat"),
], ids=["sql-and-query", "neither", "unknown-row-format"])
def test_one_statement_and_a_known_row_format(hub, make_db, target, admin, body, field):
    integration = make_db(target)
    answer = hub.post(f"/api/integrations/{integration}/query", headers=admin.headers, json=body)
    assert field in problem(answer, 422, "validation_failed")["errors"]


def test_colons_inside_string_literals_are_not_parameters(hub, make_db, target, admin):
    """Only :name outside quotes is a parameter: text such as 'at :noon' or '{"a":1}' is data."""
    integration = make_db(target)
    answer = query(hub, admin, integration,
                   "SELECT 'meet at :noon' AS note, '{\"a\":1}' AS doc, :n AS n", params={"n": 7})
    assert ok(answer)["rows"] == [["meet at :noon", '{"a":1}', 7]]


def test_values_are_json_safe_with_column_types(hub, make_db, target, admin):
    integration = make_db(target)
    answer = ok(query(hub, admin, integration,
                      f"SELECT {', '.join(ITEM_COLUMNS)}, NULL AS no_value FROM items ORDER BY id"))

    assert [c["name"] for c in answer["columns"]] == [*ITEM_COLUMNS, "no_value"]
    types = [c["type"] for c in answer["columns"]]
    assert_rows([types], [[*expected_types(target.dialect), AnyOf("null", "unknown")]])
    assert_rows(answer["rows"], [[*row, None] for row in expected_items(target.dialect)])
    assert answer["rowCount"] == 3 and answer["truncated"] is False


@pytest.mark.parametrize("target", ["postgresql"], indirect=True)
def test_postgresql_uuid_json_time_float_and_timestamptz(hub, make_db, target, admin):
    integration = make_db(target)
    answer = ok(query(hub, admin, integration,
                      "SELECT CAST('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS uuid) AS u,"
                      " CAST('{\"a\": [1, 2], \"b\": null}' AS jsonb) AS j,"
                      " CAST('10:20:30' AS time) AS t, CAST(1.5 AS float8) AS f,"
                      " CAST('2024-01-31 10:20:30+00' AS timestamptz) AS tz,"
                      " CAST('1.10' AS numeric) AS d, true AS yes"))
    types = {c["name"]: c["type"] for c in answer["columns"]}
    u, j, t, f, tz, d, yes = answer["rows"][0]
    assert u == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" and types["u"] in ("string", "uuid")
    assert j == {"a": [1, 2], "b": None} and types["j"] == "json"
    assert t == "10:20:30" and types["t"] == "time"
    assert f == 1.5 and isinstance(f, float) and types["f"] == "number"
    assert datetime.fromisoformat(tz) == datetime(2024, 1, 31, 10, 20, 30, tzinfo=UTC)
    assert types["tz"] == "datetime"
    assert d == "1.10" and types["d"] == "decimal"
    assert yes is True and types["yes"] == "boolean"


@pytest.mark.parametrize("target", ["postgresql"], indirect=True)
def test_postgresql_arrays_and_documents_are_strict_json_like_their_columns(hub, make_db,
                                                                            target, admin):
    """NaN and Infinity are not JSON: a float column answered them as text, the same floats
    in an array were written as bare NaN and Infinity, which strict parsers refuse; a
    timestamp or bytea in an array was Python's own text rather than ISO 8601 or base64.
    A document nested deeper than the driver can read was a 500."""
    integration = make_db(target)
    answer = query(hub, admin, integration,
                   "SELECT CAST('NaN' AS float8) AS f, CAST('-Infinity' AS float8) AS g,"
                   " ARRAY[1.5, 'NaN', 'Infinity', '-Infinity']::float8[] AS fs,"
                   " CAST('2024-01-31 10:20:30' AS timestamp) AS t,"
                   " ARRAY[CAST('2024-01-31 10:20:30' AS timestamp)] AS ts,"
                   " CAST('\\x00ff' AS bytea) AS b, ARRAY[CAST('\\x00ff' AS bytea)] AS bs")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:400]

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    body = json.loads(answer.get_data(as_text=True), parse_constant=refuse)
    f, g, fs, t, ts, b, bs = body["rows"][0]
    assert g.startswith("-") and fs == [1.5, f, g[1:], g]  # as the columns answer them
    assert ts == [t] and bs == [b]

    deep = query(hub, admin, integration,
                 "SELECT CAST(repeat('[', 2000) || '1' || repeat(']', 2000) AS jsonb) AS j")
    assert deep.status_code == 422, deep.get_data(as_text=True)[:400]
    assert deep.mimetype == "application/problem+json"
    assert deep.get_json()["code"] == "query_value_too_deep"
    shallow = ok(query(hub, admin, integration,
                       "SELECT CAST(repeat('[', 100) || '1' || repeat(']', 100) AS jsonb) AS j"))
    value = shallow["rows"][0][0]
    for _ in range(100):
        value = value[0]
    assert value == 1


def test_limit_and_truncated(hub, make_db, target, admin):
    integration = make_db(target)
    series = "SELECT x FROM numbers ORDER BY x"

    default = ok(query(hub, admin, integration, series))
    assert len(default["rows"]) == default["rowCount"] == 1000 and default["truncated"] is True
    assert default["rows"][0] == [1] and default["rows"][-1] == [1000]

    ten = ok(query(hub, admin, integration, series, limit=10))
    assert ten["rows"] == [[x] for x in range(1, 11)]
    assert ten["rowCount"] == 10 and ten["truncated"] is True

    exact = ok(query(hub, admin, integration, "SELECT x FROM numbers WHERE x <= 1500 ORDER BY x",
                     limit=1500))
    assert exact["rowCount"] == 1500 and exact["truncated"] is False  # as many as the limit

    most = ok(query(hub, admin, integration, series, limit=10000))
    assert most["rowCount"] == 10000 and most["rows"][-1] == [10000] and most["truncated"] is True
    assert NUMBERS > 10000

    one = ok(query(hub, admin, integration, "SELECT id FROM items ORDER BY id", limit=1))
    assert one["rows"] == [[1]] and one["truncated"] is True

    empty = ok(query(hub, admin, integration, "SELECT id FROM items WHERE id > 100"))
    assert empty["rows"] == [] and empty["rowCount"] == 0 and empty["truncated"] is False
    assert [c["name"] for c in empty["columns"]] == ["id"]


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
@pytest.mark.parametrize("body", [
    {}, {"sql": 42}, {"sql": "SELECT 1", "limit": 0}, {"sql": "SELECT 1", "limit": 10001},
    {"sql": "SELECT 1", "limit": "ten"}, {"sql": "SELECT 1", "timeoutMs": -1},
    {"sql": "SELECT 1", "params": ["a"]}, {"sql": "SELECT 1", "unknown": True},
], ids=["no-sql", "sql-not-text", "limit-0", "limit-10001", "limit-text", "timeout-negative",
        "params-list", "unknown-field"])
def test_invalid_requests_are_422(hub, make_db, target, admin, body):
    integration = make_db(target)
    answer = hub.post(f"/api/integrations/{integration}/query", headers=admin.headers, json=body)
    problem(answer, 422, "validation_failed")


def test_generic_database_type_by_dialect(hub, make_db, target, admin):
    integration = make_db(target, type="database",
                          data={"dialect": target.dialect, **target.data()})
    assert ok(query(hub, admin, integration, "SELECT count(*) AS n FROM items"))["rows"] == [[3]]


# -- read-only -------------------------------------------------------------------------------------

ANY_DIALECT_WRITES = {
    "insert": "INSERT INTO items (id, name) VALUES (99, 'intruder')",
    "update": "UPDATE items SET name = 'hacked'",
    "delete": "DELETE FROM items",
    "create-table": "CREATE TABLE hub_evil (x integer)",
    "drop-table": "DROP TABLE payroll",
    "alter-table": "ALTER TABLE items ADD COLUMN evil integer",
    "create-index": "CREATE INDEX hub_evil_idx ON items (name)",
}
DIALECT_WRITES = {
    "postgresql": {
        "truncate": "TRUNCATE payroll",
        "cte-delete": "WITH gone AS (DELETE FROM items RETURNING id) SELECT count(*) FROM gone",
        "cte-update": "WITH changed AS (UPDATE items SET name = 'hacked' RETURNING id) "
                      "SELECT id FROM changed",
        "insert-returning": "INSERT INTO items (id, name) VALUES (98, 'x') RETURNING id",
        "select-into": "SELECT * INTO hub_evil FROM items",
        "nextval": "SELECT nextval('ticket_seq')",
    },
    "mysql": {
        "truncate": "TRUNCATE TABLE payroll",
        "replace": "REPLACE INTO items (id, name) VALUES (1, 'hacked')",
        "rename": "RENAME TABLE payroll TO hub_evil",
        "create-table-as": "CREATE TABLE hub_evil AS SELECT * FROM items",
    },
    "sqlite": {
        "replace": "REPLACE INTO items (id, name) VALUES (1, 'hacked')",
        "cte-delete": "WITH doomed AS (SELECT 1 AS id) DELETE FROM items "
                      "WHERE id IN (SELECT id FROM doomed)",
        "create-table-as": "CREATE TABLE hub_evil AS SELECT * FROM items",
        "pragma": "PRAGMA user_version = 42",
    },
}
WRITES = [pytest.param(dialect, sql, id=f"{dialect}-{name}")
          for dialect in DIALECTS
          for name, sql in {**ANY_DIALECT_WRITES, **DIALECT_WRITES[dialect]}.items()]


@pytest.mark.parametrize(("target", "sql"), WRITES, indirect=["target"])
def test_writes_are_refused_and_nothing_changes(hub, make_db, target, admin, sql):
    integration = make_db(target)
    problem(query(hub, admin, integration, sql), 422, DENIED)
    assert target.snapshot() == target.seed_snapshot
    # the connection is still good for reading
    assert ok(query(hub, admin, integration, "SELECT count(*) AS n FROM items"))["rows"] == [[3]]


MULTI_STATEMENTS = {
    "select-delete": "SELECT 1; DELETE FROM items",
    "select-commit-delete": "SELECT 1; COMMIT; DELETE FROM items",
    "select-drop": "SELECT 1 AS one; DROP TABLE payroll;",
}


@pytest.mark.parametrize("sql", MULTI_STATEMENTS.values(), ids=MULTI_STATEMENTS.keys())
def test_multiple_statements_are_refused_and_nothing_changes(hub, make_db, target, admin, sql):
    integration = make_db(target)
    problem(query(hub, admin, integration, sql), 422, DENIED, "query_failed")
    assert target.snapshot() == target.seed_snapshot


SESSION_ESCAPES = {
    "postgresql": ["SELECT set_config('default_transaction_read_only', 'off', false)",
                   "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
                   "SELECT set_config('statement_timeout', '0', false)"],
    "mysql": ["SET SESSION TRANSACTION READ WRITE", "SET SESSION max_statement_time = 0",
              "SET autocommit = 1"],
}


@pytest.mark.parametrize("target", SERVERS, indirect=True)
def test_session_settings_do_not_carry_over_to_the_next_query(hub, make_db, target, admin):
    """A query cannot turn read-only or the timeout off for the pooled connection's next user."""
    integration = make_db(target)
    for escape in SESSION_ESCAPES[target.dialect]:
        answer = query(hub, admin, integration, escape)
        assert answer.status_code in (200, 422), answer.get_data(as_text=True)
    for sql in ("INSERT INTO items (id, name) VALUES (99, 'intruder')",
                "CREATE TABLE hub_evil (x integer)", "DELETE FROM payroll"):
        problem(query(hub, admin, integration, sql), 422, DENIED)
    assert target.snapshot() == target.seed_snapshot
    slow = "SELECT pg_sleep(3)" if target.dialect == "postgresql" else "SELECT SLEEP(3)"
    answer, elapsed = timed(lambda: query(hub, admin, integration, slow, timeoutMs=200))
    problem(answer, 504, "query_timeout")
    assert elapsed < 2.5


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
def test_sqlite_cannot_open_or_create_other_files(hub, make_db, target, admin, outside_secret,
                                                  outside_dir, sqlite_root):
    integration = make_db(target)
    reasons = (DENIED, "query_failed", "sqlite_path_outside_root")

    attach = query(hub, admin, integration, f"ATTACH DATABASE '{outside_secret}' AS outside")
    problem(attach, 422, *reasons)
    peek = query(hub, admin, integration, "SELECT secret FROM outside.vault")
    assert SECRET_VALUE not in peek.get_data(as_text=True)
    problem(peek, 422, "query_failed")

    fresh = sqlite_root / f"made-by-attach-{secrets.token_hex(3)}.db"
    problem(query(hub, admin, integration, f"ATTACH DATABASE '{fresh}' AS fresh"), 422, *reasons)
    assert not fresh.exists()

    problem(query(hub, admin, integration, "VACUUM"), 422, *reasons)  # rewrites the file
    copy = outside_dir / f"copy-{secrets.token_hex(3)}.db"
    problem(query(hub, admin, integration, f"VACUUM INTO '{copy}'"), 422, *reasons)
    assert not copy.exists()
    assert target.snapshot() == target.seed_snapshot


# -- timeouts and errors ---------------------------------------------------------------------------

SLOW = {
    "postgresql": "SELECT pg_sleep(3) AS hub_slow_probe",
    "mysql": "SELECT SLEEP(3) AS hub_slow_probe",
    # never ends on its own: the hub must interrupt it
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
              "SELECT count(*) AS hub_slow_probe FROM c",
}


def test_slow_query_times_out_and_stops(hub, make_db, target, admin):
    integration = make_db(target)
    answer, elapsed = timed(lambda: query(hub, admin, integration, SLOW[target.dialect],
                                          timeoutMs=200))
    problem(answer, 504, "query_timeout")
    assert elapsed < 2.5, f"answered after {elapsed:.1f} s"
    if target.dialect != "sqlite":
        assert eventually(lambda: target.running("hub_slow_probe") == 0, 1.5), \
            "the statement is still running on the server"
    assert ok(query(hub, admin, integration, "SELECT 1 AS one"))["rows"] == [[1]]


def test_sql_errors_are_422_with_the_database_message(hub, make_db, target, admin):
    integration = make_db(target)
    missing = problem(query(hub, admin, integration, "SELECT * FROM no_such_table"), 422,
                      "query_failed")
    assert "no_such_table" in missing["detail"]
    syntax = problem(query(hub, admin, integration, "SELEC 1"), 422, "query_failed")
    assert "syntax" in syntax["detail"].lower()
    unbound = query(hub, admin, integration, "SELECT :absent AS a", params={})
    problem(unbound, 422, "query_failed", "validation_failed")
    for answer in (missing, syntax, unbound.get_json()):
        assert target.password is None or target.password not in str(answer)


UNAVAILABLE = [
    pytest.param("postgresql", "closed-port", id="postgresql-closed-port"),
    pytest.param("postgresql", "unknown-user", id="postgresql-unknown-user"),
    pytest.param("postgresql", "unknown-database", id="postgresql-unknown-database"),
    pytest.param("mysql", "closed-port", id="mysql-closed-port"),
    pytest.param("mysql", "wrong-password", id="mysql-wrong-password"),
    pytest.param("mysql", "unknown-database", id="mysql-unknown-database"),
    pytest.param("sqlite", "missing-file", id="sqlite-missing-file"),
]


@pytest.mark.parametrize(("target", "how"), UNAVAILABLE, indirect=["target"])
def test_unreachable_database_is_502_and_test_says_why(hub, make_db, target, admin, sqlite_root,
                                                       how):
    # PostgreSQL here trusts 127.0.0.1, so a wrong password would connect: unknown users instead.
    wrong = f"wrong-password-{secrets.token_hex(4)}"
    missing = sqlite_root / f"missing-{secrets.token_hex(4)}.db"
    values = {
        "closed-port": {"data": target.data(port=closed_port())},
        "unknown-user": {"data": target.data(username=f"hubtest_nobody_{secrets.token_hex(3)}")},
        "unknown-database": {"data": target.data(database=f"hubtest_missing_{secrets.token_hex(3)}")},
        "wrong-password": {"credentials": {"password": wrong}},
        "missing-file": {"data": {"path": str(missing)}},
    }[how]
    integration = make_db(target, **values)

    failed = problem(query(hub, admin, integration, "SELECT 1 AS one"), 502, "database_unreachable")
    problem(schema_of(hub, admin, integration), 502, "database_unreachable")
    result = ok(check(hub, admin, integration))
    assert result["ok"] is False and isinstance(result["latencyMs"], int | float)
    assert isinstance(result["error"], str) and result["error"]
    for text in (str(failed), str(result)):
        assert wrong not in text and (target.password is None or target.password not in text)
    assert not missing.exists()  # read-only: never created


# -- schema and test -------------------------------------------------------------------------------

def test_schema_lists_tables_and_columns(hub, make_db, target, admin):
    integration = make_db(target)
    tables = ok(schema_of(hub, admin, integration))["tables"]

    assert [t["name"] for t in tables] == ["items", "numbers", "payroll"]
    assert {t["kind"] for t in tables} == {"table"}
    items = {c["name"]: c for c in tables[0]["columns"]}
    assert [c["name"] for c in tables[0]["columns"]] == ITEM_COLUMNS
    assert items["id"]["nullable"] is False and items["name"]["nullable"] is False
    assert items["note"]["nullable"] is True and items["price"]["nullable"] is True
    kinds = {name: column["type"].lower() for name, column in items.items()}
    assert all(isinstance(t, str) and t for t in kinds.values()), kinds
    assert "int" in kinds["id"]
    assert "text" in kinds["name"] or "char" in kinds["name"]
    assert "numeric" in kinds["price"] or "decimal" in kinds["price"]
    assert "date" in kinds["born"] and ("time" in kinds["seen"])
    assert any(word in kinds["payload"] for word in ("bytea", "blob", "binary"))
    assert [c["name"] for c in tables[1]["columns"]] == ["x"]


# Views, keys and indexes the schema test adds to its target, and takes away again.
CATALOG_OBJECTS = {
    "postgresql": ["CREATE TABLE orders (id integer PRIMARY KEY, item_id integer NOT NULL "
                   "REFERENCES items (id))",
                   "CREATE UNIQUE INDEX orders_item ON orders (item_id)",
                   "CREATE VIEW cheap_items AS SELECT id, name FROM items WHERE price < 1",
                   "CREATE SCHEMA archive",
                   "CREATE TABLE archive.old_orders (id integer PRIMARY KEY, "
                   "item_id integer REFERENCES public.items (id))"],
    "mysql": ["CREATE TABLE orders (id INT PRIMARY KEY, item_id INT NOT NULL, "
              "FOREIGN KEY (item_id) REFERENCES items (id))",
              "CREATE UNIQUE INDEX orders_item ON orders (item_id)",
              "CREATE VIEW cheap_items AS SELECT id, name FROM items WHERE price < 1"],
    "sqlite": ["CREATE TABLE orders (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL "
               "REFERENCES items (id))",
               "CREATE UNIQUE INDEX orders_item ON orders (item_id)",
               "CREATE VIEW cheap_items AS SELECT id, name FROM items WHERE price < 1"],
}
CATALOG_CLEANUP = {
    "postgresql": ["DROP SCHEMA IF EXISTS archive CASCADE", "DROP VIEW IF EXISTS cheap_items",
                   "DROP TABLE IF EXISTS orders"],
    "mysql": ["DROP VIEW IF EXISTS cheap_items", "DROP TABLE IF EXISTS orders"],
    "sqlite": ["DROP VIEW IF EXISTS cheap_items", "DROP TABLE IF EXISTS orders"],
}


@pytest.fixture
def catalogued(target):
    """The target with a view, a foreign key, a unique index and (PostgreSQL) a second
    schema, plus one the account may not use; all gone afterwards."""
    hidden = target.dialect == "postgresql"
    try:
        target.run_as_owner(*CATALOG_OBJECTS[target.dialect])
        if hidden:
            with _pg_admin(target.database) as admin:
                admin.execute("CREATE SCHEMA hidden")
                admin.execute("CREATE TABLE hidden.secrets (x integer)")
        yield target
    finally:
        if hidden:
            with _pg_admin(target.database) as admin:
                admin.execute("DROP SCHEMA IF EXISTS hidden CASCADE")
        target.run_as_owner(*CATALOG_CLEANUP[target.dialect])
        target.reseed()


def test_schema_describes_views_keys_indexes_and_every_usable_schema(hub, make_db, catalogued,
                                                                    admin):
    target = catalogued
    integration = make_db(target)

    described = ok(schema_of(hub, admin, integration))

    default = {"postgresql": "public", "mysql": target.database, "sqlite": "main"}[target.dialect]
    others = ["archive"] if target.dialect == "postgresql" else []
    assert described["schemas"] == [default, *others]
    assert described["truncated"] is False
    tables = {(table["schema"], table["name"]): table for table in described["tables"]}
    assert [name for schema, name in tables if schema == default] == [
        "cheap_items", "items", "numbers", "orders", "payroll"]
    view = tables[default, "cheap_items"]
    assert view["kind"] == "view" and [c["name"] for c in view["columns"]] == ["id", "name"]
    assert view["primaryKey"] == [] and view["foreignKeys"] == []
    items, orders = tables[default, "items"], tables[default, "orders"]
    assert items["kind"] == "table" and items["primaryKey"] == ["id"]
    assert orders["primaryKey"] == ["id"]
    assert [{key: fk[key] for key in ("columns", "referredSchema", "referredTable",
                                      "referredColumns")} for fk in orders["foreignKeys"]] == [
        {"columns": ["item_id"], "referredSchema": default, "referredTable": "items",
         "referredColumns": ["id"]}]
    unique = [index for index in orders["indexes"] if index["name"] == "orders_item"]
    assert unique == [{"name": "orders_item", "columns": ["item_id"], "unique": True}]
    if target.dialect == "postgresql":
        archived = tables["archive", "old_orders"]
        assert archived["foreignKeys"][0]["referredSchema"] == "public"
        assert archived["foreignKeys"][0]["referredTable"] == "items"
        assert not any(schema == "hidden" for schema, _ in tables)


@pytest.mark.parametrize("target", ["postgresql"], indirect=True)
def test_schema_names_each_table_once_when_the_default_schema_is_not_public(hub, make_db,
                                                                           target, admin):
    """With the search path ``"$user", public``, a schema named after the account is its
    default: public's tables are still listed once, under public, and a foreign key into
    public names it (they were listed again under the default schema, and the key's schema
    was the default's)."""
    own = target.username
    try:
        target.run_as_owner(f'CREATE SCHEMA "{own}"',
                            f'CREATE TABLE "{own}".orders (id integer PRIMARY KEY, '
                            "item_id integer REFERENCES public.items (id))")
        described = ok(schema_of(hub, admin, make_db(target)))
    finally:
        target.run_as_owner(f'DROP SCHEMA IF EXISTS "{own}" CASCADE')

    assert described["schemas"] == [own, "public"]
    listed = [(table["schema"], table["name"]) for table in described["tables"]]
    assert listed == [(own, "orders"), ("public", "items"), ("public", "numbers"),
                      ("public", "payroll")]
    (key,) = described["tables"][0]["foreignKeys"]
    assert (key["referredSchema"], key["referredTable"]) == ("public", "items")


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
def test_a_view_that_cannot_be_read_is_listed_with_its_error_and_the_rest_described(
        hub, make_db, target, admin):
    try:
        target.run_as_owner("CREATE TABLE gone (x INTEGER)",
                            "CREATE VIEW broken AS SELECT x FROM gone", "DROP TABLE gone")
        described = ok(schema_of(hub, admin, make_db(target)))
    finally:
        target.run_as_owner("DROP VIEW IF EXISTS broken")

    tables = {table["name"]: table for table in described["tables"]}
    assert list(tables) == ["broken", "items", "numbers", "payroll"]
    broken = tables["broken"]
    assert broken["kind"] == "view" and broken["columns"] == [] and "gone" in broken["error"]
    assert [c["name"] for c in tables["items"]["columns"]] == ITEM_COLUMNS
    assert "error" not in tables["items"] and tables["items"]["primaryKey"] == ["id"]


@pytest.mark.parametrize("target", ["postgresql"], indirect=True)
@pytest.mark.parametrize(("cap", "truncated"), [(6, False), (5, True), (2, True)])
def test_schema_stops_at_its_cap_and_says_so(hub, make_db, catalogued, admin, monkeypatch,
                                             cap, truncated):
    """The cap counts tables and views over every schema (PostgreSQL: five in public, one in
    archive); exactly at the cap nothing is cut."""
    monkeypatch.setattr(catalog, "MAX_TABLES", cap)
    described = ok(schema_of(hub, admin, make_db(catalogued)))

    assert described["truncated"] is truncated
    assert len(described["tables"]) == min(cap, 6)
    assert [table["schema"] for table in described["tables"]] == (
        ["public"] * 5 + ["archive"])[:cap]


def test_test_endpoint_connects_and_selects(hub, make_db, target, admin):
    integration = make_db(target)
    result = ok(check(hub, admin, integration))
    assert result["ok"] is True
    assert isinstance(result["latencyMs"], int | float) and result["latencyMs"] >= 0
    assert not result.get("error")


# -- access ----------------------------------------------------------------------------------------

def test_reading_is_enough_and_others_get_404(hub, make_db, target, member, make_caller):
    integration = make_db(target, shares={"mia": 1})
    assert ok(query(hub, member, integration, "SELECT count(*) AS n FROM items"))["rows"] == [[3]]
    assert [t["name"] for t in ok(schema_of(hub, member, integration))["tables"]][0] == "items"
    problem(query(hub, member, integration, "DELETE FROM items"), 422, DENIED)

    stranger = make_caller("stranger")
    foreign = make_caller("fred", tenant="other", superuser=True)
    for caller in (stranger, foreign):
        for answer in (query(hub, caller, integration, "SELECT 1 AS one"),
                       schema_of(hub, caller, integration), check(hub, caller, integration)):
            assert answer.status_code == 404, answer.get_data(as_text=True)
    assert target.snapshot() == target.seed_snapshot


def test_http_integrations_are_not_databases(hub, make_integration, admin):
    integration = make_integration("Plain API", type="custom", auth_type="apikey",
                                   api_key="plain-api-key-123")
    problem(query(hub, admin, integration, "SELECT 1"), 409, "not_a_database")
    problem(schema_of(hub, admin, integration), 409, "not_a_database")


@pytest.mark.parametrize("target", SERVERS, indirect=True)
def test_per_user_mode_queries_with_each_users_own_login(hub, make_db, target, member,
                                                         make_caller):
    otto, zoe = make_caller("otto"), make_caller("zoe")
    integration = make_db(target, mode="per-user", data=without_username(target), credentials=None,
                          shares={"mia": 1, "otto": 1, "zoe": 1})

    for caller, username, password in ((member, target.username, target.password),
                                       (otto, target.reader, target.reader_password)):
        connected = hub.post(f"/api/integrations/{integration}/connect", headers=caller.headers,
                             json={"username": username, "password": password})
        assert connected.status_code in (200, 201), connected.get_data(as_text=True)

    mine = ok(query(hub, member, integration, who_am_i(target.dialect)))["rows"][0][0]
    ottos = ok(query(hub, otto, integration, who_am_i(target.dialect)))["rows"][0][0]
    assert user_name(target.dialect, mine) == target.username
    assert user_name(target.dialect, ottos) == target.reader

    assert ok(query(hub, member, integration, "SELECT count(*) AS n FROM payroll"))["rows"] == [[2]]
    refused = problem(query(hub, otto, integration, "SELECT count(*) AS n FROM payroll"), 422,
                      "query_failed")
    assert "payroll" in refused["detail"] or "denied" in refused["detail"].lower()
    assert ok(query(hub, otto, integration, "SELECT count(*) AS n FROM items"))["rows"] == [[3]]
    problem(query(hub, member, integration, "DELETE FROM payroll"), 422, DENIED)

    for answer in (query(hub, zoe, integration, "SELECT 1 AS one"), schema_of(hub, zoe, integration)):
        problem(answer, 409, "integration_not_connected")
    assert target.snapshot() == target.seed_snapshot


@pytest.mark.parametrize("target", ["mysql"], indirect=True)
def test_per_user_wrong_password_never_reaches_a_query(hub, make_db, target, member):
    integration = make_db(target, mode="per-user", data=without_username(target), credentials=None,
                          shares={"mia": 1})
    wrong = f"wrong-password-{secrets.token_hex(4)}"
    connected = hub.post(f"/api/integrations/{integration}/connect", headers=member.headers,
                         json={"username": target.username, "password": wrong})
    assert connected.status_code < 500, connected.get_data(as_text=True)
    answer = query(hub, member, integration, "SELECT 1 AS one")
    if connected.status_code in (200, 201):  # stored without a check: the query must fail
        problem(answer, 502, "database_unreachable")
    else:  # refused at connect time: nothing stored
        problem(answer, 409, "integration_not_connected")
    assert wrong not in connected.get_data(as_text=True) + answer.get_data(as_text=True)


@pytest.mark.parametrize("target", SERVERS, indirect=True)
def test_changed_settings_take_effect_and_old_pools_close(hub, make_db, target, admin):
    """Engines are pooled per integration and disposed when it changes or goes away."""
    with (target.temporary_user() as (first, first_password),
          target.temporary_user() as (second, second_password)):
        integration = make_db(target, data=target.data(username=first),
                              credentials={"password": first_password})
        who = ok(query(hub, admin, integration, who_am_i(target.dialect)))["rows"][0][0]
        assert user_name(target.dialect, who) == first

        WATCH.remember([second_password])
        changed = hub.patch(f"/api/integrations/{integration}", headers=admin.headers,
                            json={"data": target.data(username=second),
                                  "credentials": {"password": second_password}})
        assert changed.status_code == 200, shown(changed)
        who = ok(query(hub, admin, integration, who_am_i(target.dialect)))["rows"][0][0]
        assert user_name(target.dialect, who) == second
        assert eventually(lambda: target.sessions_of(first) == 0), \
            f"{first} still has {target.sessions_of(first)} session(s) after the change"

        deleted = hub.delete(f"/api/integrations/{integration}?force=true", headers=admin.headers)
        assert deleted.status_code == 204, deleted.get_data(as_text=True)
        assert eventually(lambda: target.sessions_of(second) == 0), \
            f"{second} still has {target.sessions_of(second)} session(s) after the delete"


# -- SQLite files must stay under HUB_SQLITE_ROOT --------------------------------------------------

def create_sqlite(client, caller, path: str):
    return client.post("/api/integrations", headers=caller.headers, json={
        "name": "Local file", "type": "sqlite", "authType": "none", "mode": "shared",
        "data": {"path": path}})


@pytest.mark.parametrize("how", ["absolute-elsewhere", "dotdot-in-absolute", "dotdot-relative",
                                 "symlink-file", "symlink-directory", "sibling-with-same-prefix"])
def test_sqlite_paths_outside_the_root_are_refused(hub, admin, sqlite_root, outside_dir,
                                                   outside_secret, how):
    token = secrets.token_hex(4)
    made = []
    if how == "absolute-elsewhere":
        path = str(outside_secret)
    elif how == "dotdot-in-absolute":
        path = f"{sqlite_root}/../{outside_dir.name}/{outside_secret.name}"
    elif how == "dotdot-relative":
        path = os.path.relpath(outside_secret, sqlite_root)
    elif how == "symlink-file":
        link = sqlite_root / f"link-{token}.db"
        link.symlink_to(outside_secret)
        made.append(link)
        path = str(link)
    elif how == "symlink-directory":
        link = sqlite_root / f"dir-{token}"
        link.symlink_to(outside_dir, target_is_directory=True)
        made.append(link)
        path = str(link / outside_secret.name)
    else:  # a naive startswith(root) check lets /x/sqlite-root0-evil/... through
        sibling = sqlite_root.parent / f"{sqlite_root.name}-evil-{token}"
        sibling.mkdir()
        path = str(make_sqlite_file(sibling / "sibling.db", [(SECRET_VALUE,)]))
        made.extend([sibling / "sibling.db", sibling])
    try:
        answer = create_sqlite(hub, admin, path)
        assert SECRET_VALUE not in answer.get_data(as_text=True)
        if answer.status_code == 201:  # not refused when created: querying must be, at least
            queried = query(hub, admin, answer.get_json()["id"], "SELECT secret FROM vault")
            assert SECRET_VALUE not in queried.get_data(as_text=True)
            problem(queried, 422, "sqlite_path_outside_root")
        problem(answer, 422, "sqlite_path_outside_root")
    finally:
        for leftover in made:
            leftover.rmdir() if leftover.is_dir() and not leftover.is_symlink() else leftover.unlink()


def test_sqlite_path_inside_the_root_is_accepted_and_moving_it_out_is_refused(
        hub, admin, sqlite_root, outside_secret):
    inside = make_sqlite_file(sqlite_root / f"inside-{secrets.token_hex(4)}.db", [("inside",)])
    try:
        created = create_sqlite(hub, admin, str(inside))
        assert created.status_code == 201, shown(created)
        integration = created.get_json()["id"]
        assert ok(query(hub, admin, integration, "SELECT secret FROM vault"))["rows"] == [["inside"]]
        moved = hub.patch(f"/api/integrations/{integration}", headers=admin.headers,
                          json={"data": {"path": str(outside_secret)}})
        problem(moved, 422, "sqlite_path_outside_root")
        hub.delete(f"/api/integrations/{integration}?force=true", headers=admin.headers)
    finally:
        inside.unlink()


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
def test_sqlite_path_is_checked_again_when_querying(hub, make_db, target, admin, sqlite_root,
                                                    outside_secret):
    """A file inside the root when the integration was made, swapped for a symlink later."""
    swapped = make_sqlite_file(sqlite_root / f"swap-{secrets.token_hex(4)}.db", [("inside",)])
    used = make_sqlite_file(sqlite_root / f"used-{secrets.token_hex(4)}.db", [("inside",)])
    try:
        fresh = make_db(target, data={"path": str(swapped)})
        warm = make_db(target, data={"path": str(used)})
        assert ok(query(hub, admin, warm, "SELECT secret FROM vault"))["rows"] == [["inside"]]
        for path in (swapped, used):
            path.unlink()
            path.symlink_to(outside_secret)

        never_opened = query(hub, admin, fresh, "SELECT secret FROM vault")
        assert SECRET_VALUE not in never_opened.get_data(as_text=True)
        problem(never_opened, 422, "sqlite_path_outside_root")
        # an open pooled connection may still read the old file, never the new target
        assert SECRET_VALUE not in query(hub, admin, warm, "SELECT secret FROM vault").get_data(
            as_text=True)
    finally:
        swapped.unlink(missing_ok=True)
        used.unlink(missing_ok=True)


# -- the test endpoint for HTTP integrations -------------------------------------------------------

def test_http_health_check_goes_through_the_proxy(client, make_integration, admin, upstream):
    integration = make_integration("Health", type="custom", auth_type="apikey", mode="shared",
                                   api_base_uri=f"{upstream.url}/v1",
                                   data={"healthCheck": "/health"}, api_key="k-123")
    result = ok(check(client, admin, integration))
    assert result["ok"] is True and isinstance(result["latencyMs"], int | float)
    (received,) = upstream.requests()
    assert received.method == "GET" and received.path == "/v1/health"
    assert received.header("X-API-Key") == "k-123"

    upstream.reset()
    upstream.respond("/v1/health", {"status": 500, "body": "broken"})
    failed = ok(check(client, admin, integration))
    assert failed["ok"] is False and isinstance(failed["error"], str) and failed["error"]
    assert isinstance(failed["latencyMs"], int | float)
