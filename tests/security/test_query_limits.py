"""A query's answer is bounded in rows and in bytes, and the worker never holds the whole result
(docs/security.md, "Database integrations"), on PostgreSQL, MariaDB and SQLite.

The drivers' default cursors read every row on execute: ``generate_series(1, 10000000)`` with
``limit: 10`` took a gigabyte in the worker, and ``randomblob(100000000)`` over five rows answered
666 MB. Memory is not measured here (that would be flaky). Instead the rows of each query past a
point raise an error when the database computes them (a division by zero, an overflow, malformed
JSON): a hub that reads more rows than it answers meets the error and the query fails; a hub
that reads in batches and stops at the limit or the byte cap never computes those rows. A control
query reaches that point and must get the error, so the probe is seen to work.

The hub here caps answers at CAP bytes (``HUB_QUERY_MAX_BYTES``).
"""

from __future__ import annotations

import pytest

from integration_hub import create_app
from integration_hub.identity import directory as identity
from tests import factories
from tests.conftest import make_settings, missing_component
from tests.secret_watch import WATCH, WatchedClient
from tests.support.databases import NUMBERS, Target, TargetUnavailable, create_target

DIALECTS = ("postgresql", "mysql", "sqlite")
CAP = 64 * 1024
ROW_TEXT = 10_000  # characters of text per row in the byte-cap probe
OVERHEAD = 1024    # the answer's columns, counts and punctuation


@pytest.fixture(scope="module")
def limits_root(tmp_path_factory):
    return tmp_path_factory.mktemp("limits-root").resolve()


@pytest.fixture(scope="module")
def limit_targets(limits_root):
    made: dict[str, Target | TargetUnavailable] = {}

    def get(dialect: str) -> Target:
        if dialect not in made:
            try:
                made[dialect] = create_target(dialect, limits_root)
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


@pytest.fixture(scope="module")
def capped_app(migrated_app, limits_root, tmp_path_factory):
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url,
                             tmp_path_factory.mktemp("instance"),
                             HUB_SQLITE_ROOT=str(limits_root), HUB_QUERY_MAX_BYTES=str(CAP))
    configured = create_app(settings)
    configured.test_client_class = WatchedClient
    yield configured
    configured.extensions["integration_hub.request_log"].flush()
    configured.extensions["integration_hub.db"].kw["bind"].dispose()  # its connections


@pytest.fixture
def hub(app, capped_app):
    return capped_app.test_client()


@pytest.fixture(params=DIALECTS)
def target(request, limit_targets) -> Target:
    found = limit_targets(request.param)
    yield found
    assert found.snapshot() == found.seed_snapshot


@pytest.fixture
def integration(capped_app, hub, admin, target):
    with capped_app.app_context(), capped_app.extensions["integration_hub.db"]() as session:
        creator = identity.get_user(session, admin.tenant, admin.username)
        made = factories.integration(session, creator, "Numbers", **target.integration_values())
        session.commit()
        made_id = made.id
    yield made_id
    hub.delete(f"/api/integrations/{made_id}?force=true", headers=admin.headers)


def query(client, caller, integration: str, sql: str, **body):
    return client.post(f"/api/integrations/{integration}/query", headers=caller.headers,
                       json={"sql": sql, **body})


def shown(answer) -> str:
    return f"{answer.status_code} {answer.get_data(as_text=True)[:400]}"


def ok_rows(answer) -> list:
    assert answer.status_code == 200, shown(answer)
    return answer.get_json()["rows"]


def failing_after(dialect: str, last: int, value: str) -> str:
    """SQL for ``value`` in the rows of ``numbers`` with x <= last, and an error in the others
    (computed only when the database gets to such a row)."""
    if dialect == "postgresql":
        return f"CASE WHEN x <= {last} THEN {value} ELSE CAST(1 / (x - x) AS text) END"
    if dialect == "mysql":
        return f"CASE WHEN x <= {last} THEN {value} ELSE EXP(1000 + x) END"
    return f"CASE WHEN x <= {last} THEN {value} ELSE json('{{' || x) END"


def text(dialect: str, size: int) -> str:
    """SQL for a string of ``size`` characters."""
    if dialect == "sqlite":
        return f"hex(zeroblob({size // 2}))"
    return f"{'repeat' if dialect == 'postgresql' else 'REPEAT'}('x', {size})"


def as_text(dialect: str) -> str:
    return "CAST(x AS CHAR)" if dialect == "mysql" else "CAST(x AS TEXT)"


def the_probe_fails(hub, admin, integration, dialect: str, expression: str, row: int) -> None:
    """Control: computing ``expression`` for row ``row`` is an error."""
    answer = query(hub, admin, integration,
                   f"SELECT {expression} AS probe FROM numbers WHERE x = {row}")
    assert answer.status_code == 422, f"the probe did not fail on {dialect}: {shown(answer)}"
    assert answer.get_json()["code"] == "query_failed"


def test_reading_stops_at_the_limit_and_later_rows_are_never_computed(hub, admin, integration,
                                                                     target):
    assert NUMBERS > 1000
    probe = failing_after(target.dialect, 1000, as_text(target.dialect))
    answer = query(hub, admin, integration, f"SELECT x, {probe} AS y FROM numbers", limit=10)

    assert answer.status_code == 200, shown(answer)
    body = answer.get_json()
    assert body["rowCount"] == len(body["rows"]) == 10 and body["truncated"] is True
    assert all(y == str(x) and x <= 1000 for x, y in body["rows"]), body["rows"]
    the_probe_fails(hub, admin, integration, target.dialect, probe, 1001)
    # the whole result at once: the database gets to the failing rows
    everything = query(hub, admin, integration, f"SELECT x, {probe} AS y FROM numbers",
                       limit=10000)
    assert everything.status_code == 422, shown(everything)


def test_reading_stops_at_the_byte_cap(hub, admin, integration, target):
    probe = failing_after(target.dialect, 50, text(target.dialect, ROW_TEXT))
    answer = query(hub, admin, integration, f"SELECT x, {probe} AS padding FROM numbers",
                   limit=1000)

    assert answer.status_code == 200, shown(answer)
    assert len(answer.get_data()) <= CAP + OVERHEAD
    body = answer.get_json()
    assert body["truncated"] is True
    # as many whole rows as the cap holds (each a little over ROW_TEXT bytes as JSON)
    assert CAP // ROW_TEXT - 1 <= body["rowCount"] == len(body["rows"]) <= CAP // ROW_TEXT
    assert all(len(padding) == ROW_TEXT for _, padding in body["rows"])
    the_probe_fails(hub, admin, integration, target.dialect, probe, 51)  # 51 rows: 500 KB


def test_rows_as_objects_stop_at_the_byte_cap_with_their_column_names(hub, admin, integration,
                                                                      target):
    """A row answered as an object repeats its column names: they count toward the cap, so
    long names cannot carry the answer past it."""
    name = "n" * 60
    columns = ", ".join(f"x AS {name}{number}" for number in range(40))  # ~2.5 KB of names
    answer = query(hub, admin, integration, f"SELECT {columns} FROM numbers ORDER BY x",
                   limit=1000, rowFormat="objects")

    assert answer.status_code == 200, shown(answer)
    assert len(answer.get_data()) <= CAP + OVERHEAD + 40 * (len(name) + 8)  # the columns list
    body = answer.get_json()
    assert body["truncated"] is True
    assert 0 < body["rowCount"] < CAP // (40 * len(name))
    assert list(body["rows"][0]) == [f"{name}{number}" for number in range(40)]


def test_a_refused_answer_is_dropped_not_read_to_its_end(hub, admin, integration, target):
    """Rows as objects with two columns of one name are refused on the first row: the rest
    of the result is abandoned with the connection, never read out (MariaDB's unbuffered
    result would otherwise be read to its end on closing, computing every row)."""
    probe = failing_after(target.dialect, 1, as_text(target.dialect))
    answer = query(hub, admin, integration, f"SELECT x AS same, {probe} AS same FROM numbers",
                   rowFormat="objects")

    assert answer.status_code == 422, shown(answer)
    assert answer.get_json()["code"] == "query_columns_not_unique"
    the_probe_fails(hub, admin, integration, target.dialect, probe, 2)


def test_a_value_larger_than_the_cap_is_not_answered_and_the_next_row_never_computed(
        hub, admin, integration, target):
    # Python's sqlite3 steps one row ahead of the row it hands over
    read = 2 if target.dialect == "sqlite" else 1
    probe = failing_after(target.dialect, read, text(target.dialect, 4 * CAP))
    answer = query(hub, admin, integration, f"SELECT x, {probe} AS big FROM numbers", limit=5)

    assert answer.status_code == 200, shown(answer)  # read alone, found too large
    assert len(answer.get_data()) <= CAP + OVERHEAD
    body = answer.get_json()
    assert body["rows"] == [] and body["rowCount"] == 0 and body["truncated"] is True
    the_probe_fails(hub, admin, integration, target.dialect, probe, read + 1)


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
def test_sqlite_makes_no_value_larger_than_the_cap(hub, admin, integration, target):
    """randomblob(100000000) over five rows once answered 666 MB. SQLite's own limit on a
    value is the cap, or 1 MiB when the cap is smaller (its schema must fit as well)."""
    answer = query(hub, admin, integration,
                   "SELECT x, randomblob(2 * 1024 * 1024) AS big FROM numbers LIMIT 5")
    assert answer.status_code == 422, shown(answer)
    body = answer.get_json()
    assert body["code"] == "query_failed" and "too big" in body["detail"], body
    fits = ok_rows(query(hub, admin, integration,
                         "SELECT length(randomblob(1024 * 1024)) AS n FROM numbers LIMIT 2"))
    assert fits == [[1024 * 1024], [1024 * 1024]]


@pytest.mark.parametrize("target", ["postgresql"], indirect=True)
def test_a_query_read_in_many_fetches_still_stops_at_its_timeout(hub, admin, integration, target):
    """Each FETCH of a server-side cursor is a statement of its own: it gets the time that is
    left, not the whole timeout again. 31 rows of 20 ms each take at least 620 ms in fetches of
    1, 2, 4, 8 and 16 rows (none longer than 320 ms); the timeout is 500 ms."""
    answer = query(hub, admin, integration,
                   "SELECT x, pg_sleep(0.02) AS pause FROM numbers WHERE x <= 31", limit=31,
                   timeoutMs=500)
    assert answer.status_code == 504, shown(answer)
    assert answer.get_json()["code"] == "query_timeout"


# -- memory --------------------------------------------------------------------------------------

MEMORY_CAP = 1024 * 1024
BIG_ROW = 256 * 1024  # characters of text in each large row
SMALL_ROWS = 511      # small rows first: reading in growing batches, the next batch is large
# Rows read beyond what is answered, at most: PostgreSQL fetches a small batch per FETCH; MySQL
# and SQLite one row at a time (Python's sqlite3 converts a row, then steps to the next).
IN_FLIGHT = {"postgresql": 16, "mysql": 1, "sqlite": 2}
# The small rows as Python values, the engine's own allocations, tracemalloc's bookkeeping.
SLACK = 1024 * 1024
# The query's timeout: a bound, not a measure. PostgreSQL sorts some 3 GB of rows for it,
# which on a loaded machine (parallel test workers) has taken longer than 30 s.
QUERY_WAIT_MS = 180_000


def test_the_worker_holds_the_cap_and_one_batch_of_rows_at_most(backend, capped_app, hub, admin,
                                                                integration, target):
    """Rows of 256 KB after 511 small ones: a hub that grows its batches with the rows seen so
    far asks for hundreds of large rows at once (over 100 MB here, a gigabyte with rows of
    2 MB). Peak memory during the query must stay under the cap, the rows in flight, and the
    row being measured."""
    if backend != "sqlite":
        pytest.skip("the rows come from the integration's database, whatever the hub's own: "
                    "measured once, with the hub on SQLite")
    import tracemalloc

    from integration_hub.databases import queries as dbquery
    from integration_hub.databases.sqlite_files import SqliteFiles
    from integration_hub.integrations import store as integrations

    big = text(target.dialect, BIG_ROW)
    sql = (f"SELECT x, CASE WHEN x <= {SMALL_ROWS} THEN '' ELSE {big} END AS padding "
           "FROM numbers ORDER BY x")
    with capped_app.app_context(), capped_app.extensions["integration_hub.db"]() as session:
        user = identity.get_user(session, admin.tenant, admin.username)
        found = integrations.find(session, user, integration)
        engine = dbquery.engine_for(session, user, found,
                                    SqliteFiles.of(capped_app.config["HUB_SETTINGS"]))
        dbquery.run_query(engine, "SELECT x FROM numbers WHERE x < 3", None, 10, 30_000,
                          MEMORY_CAP)  # connected, statements compiled
        tracemalloc.start()
        try:
            result = dbquery.run_query(engine, sql, None, 1000, QUERY_WAIT_MS, MEMORY_CAP)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    big_rows = [row for row in result.rows if row[1]]
    assert result.truncated is True and len(result.rows) > SMALL_ROWS and big_rows
    assert all(len(padding) == BIG_ROW for _, padding in big_rows)
    bound = MEMORY_CAP + (IN_FLIGHT[target.dialect] + 1) * BIG_ROW + SLACK
    assert peak < bound, f"{target.dialect}: peak {peak / 2**20:.1f} MiB, bound {bound / 2**20:.1f} MiB"
