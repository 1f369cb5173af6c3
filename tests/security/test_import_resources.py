"""An import's cost to the hub: what a large records file may take from the others.

A user with write access may upload a file up to ``HUB_IMPORT_MAX_BYTES``. The hub reads
it as a stream and writes it in batches (docs/security.md, "Imports"):

- the file, its text and its rows are never all in memory: an import of a file three
  times the size of a memory cap the test sets stays under the cap (Python's own
  allocations, traced while the request is served);
- the hub's database is written in short transactions of at most 1,000 rows, each one
  committed before the next begins, so another writer gets the write lock between them
  (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: the integration's row, which other imports,
  syncs and changes of the integration take) without waiting;
- each batch checks the caller's write access again: a share lowered to read while the
  import runs stops it at the next batch;
- yet a file with a problem anywhere, far beyond the first batch, still changes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from tests.support.problems import assert_problem

MIB = 1024 * 1024
MEMORY_CAP = 4 * MIB
BATCH_ROWS = 1000  # docs/security.md, "Imports": at most this many rows per transaction
BOUNDARY = "import-boundary-7f3a"


@pytest.fixture
def integration(make_integration):
    return make_integration("Records", type="custom", auth_type="none", shares={"mia": 2})


@pytest.fixture
def import_limit(app, monkeypatch):
    def limit(size: int) -> None:
        settings = dataclasses.replace(app.config["HUB_SETTINGS"], import_max_bytes=size)
        monkeypatch.setitem(app.config, "HUB_SETTINGS", settings)

    return limit


def multipart_file(folder: Path, lines, **fields: str) -> tuple[Path, int]:
    """A multipart/form-data body on disk: ``resources_file`` holding ``lines`` (bytes),
    then the form ``fields``; returns (its path, the size of the file part's content)."""
    path = folder / "body"
    size = 0
    with open(path, "wb") as body:
        body.write(f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"resources_file\"; "
                   f"filename=\"records.csv\"\r\nContent-Type: text/csv\r\n\r\n".encode())
        for line in lines:
            body.write(line)
            size += len(line)
        for name, value in fields.items():
            body.write(f"\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; "
                       f"name=\"{name}\"\r\n\r\n{value}".encode())
        body.write(f"\r\n--{BOUNDARY}--\r\n".encode())
    return path, size


def post_file(client, caller, integration, body: Path):
    with open(body, "rb") as stream:
        return client.post(f"/api/integrations/{integration}/import", headers=caller.headers,
                           input_stream=stream, content_length=body.stat().st_size,
                           content_type=f"multipart/form-data; boundary={BOUNDARY}")


def csv_rows(count: int, width: int = 0, bad_line: int | None = None):
    """A CSV file's lines: a header and ``count`` rows r0..., each with a note of ``width``
    characters; the row on file line ``bad_line`` has a field too many."""
    yield b"id,amount,note\n"
    for number in range(count):
        extra = b",surplus" if number + 2 == bad_line else b""
        yield b"r%d,%d,%s%s\n" % (number, number, b"n" * width, extra)


def stored_count(client, caller, integration) -> int:
    answer = client.get(f"/api/integrations/{integration}/records", headers=caller.headers,
                        query_string={"limit": 1})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()["total"]


# -- memory ----------------------------------------------------------------------------------

def test_an_import_holds_neither_the_file_nor_its_rows_in_memory(client, member, integration,
                                                                 import_limit, tmp_path):
    rows, width = 410, 32_000
    body, size = multipart_file(tmp_path, csv_rows(rows, width))
    assert size > 3 * MEMORY_CAP  # holding the file alone would pass the cap three times
    import_limit(size)

    tracemalloc.start()
    try:
        answer = post_file(client, member, integration, body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert (answer.get_json()["created"], answer.get_json()["errors"]) == (rows, [])
    assert peak < MEMORY_CAP, f"the import peaked at {peak / MIB:.1f} MiB of memory"
    assert stored_count(client, member, integration) == rows


# -- the write lock --------------------------------------------------------------------------

class OtherWriter:
    """A writer of the hub's database beside the import that never waits: it takes what
    another import of the same integration needs (SQLite: the write lock; PostgreSQL: the
    integration's row, FOR NO KEY UPDATE NOWAIT), writes and commits, or fails at once if
    the import holds it."""

    def __init__(self, database_url: str, integration: str) -> None:
        self.url, self.integration = make_url(database_url), integration
        self.sqlite = self.url.get_backend_name() == "sqlite"

    def _connect(self):
        if self.sqlite:
            return sqlite3.connect(self.url.database, timeout=0, isolation_level=None)
        import psycopg

        return psycopg.connect(self.url.set(drivername="postgresql")
                               .render_as_string(hide_password=False))

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if not self.sqlite else statement

    def records(self) -> int:
        with self._connect() as connection:
            return connection.execute(self._sql(
                "SELECT count(*) FROM records WHERE integration_id = ?"),
                (self.integration,)).fetchone()[0]

    def write(self, statement: str, *params) -> str | None:
        """None when the statement was committed, else why it was refused."""
        connection = self._connect()
        try:
            if self.sqlite:
                connection.execute("BEGIN IMMEDIATE")
            else:
                connection.execute("SELECT id FROM integrations WHERE id = %s "
                                   "FOR NO KEY UPDATE NOWAIT", (self.integration,))
            connection.execute(self._sql(statement), params)
            connection.execute("COMMIT") if self.sqlite else connection.commit()
        except Exception as refused:  # noqa: BLE001 - either driver's "locked"
            return f"{type(refused).__name__}: {refused}"
        finally:
            connection.close()
        return None


@contextlib.contextmanager
def after_each_commit(app, react):
    """``react`` runs after every commit of the hub's sessions (the import's among them),
    while the block runs."""
    sessions = app.extensions["integration_hub.db"]
    event.listen(sessions, "after_commit", react)
    try:
        yield
    finally:
        event.remove(sessions, "after_commit", react)


def test_other_writers_commit_between_the_batches_of_an_import(app, client, member, integration,
                                                               tmp_path):
    rows = 5 * BATCH_ROWS
    body, _ = multipart_file(tmp_path, csv_rows(rows))
    other = OtherWriter(app.config["HUB_SETTINGS"].database_url, integration)
    seen: list[tuple[int, str | None]] = []  # after each commit: records visible, other write

    def rename(_session) -> None:
        visible = other.records()
        refused = (other.write("UPDATE integrations SET name = ? WHERE id = ?",
                               f"Renamed at {visible}", integration)
                   if 0 < visible < rows else None)
        seen.append((visible, refused))

    with after_each_commit(app, rename):
        answer = post_file(client, member, integration, body)

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["created"] == rows
    partway = [(visible, refused) for visible, refused in seen if 0 < visible < rows]
    assert partway, f"no commit of the import published part of it: {seen}"
    assert [refused for _, refused in partway] == [None] * len(partway)
    counts = [visible for visible, _ in seen]
    steps = [after - before for before, after in zip(counts, counts[1:], strict=False)]
    assert max(steps) <= BATCH_ROWS, f"records published per commit: {steps}"
    assert counts[-1] == rows
    renamed = client.get(f"/api/integrations/{integration}", headers=member.headers).get_json()
    assert renamed["name"] == f"Renamed at {partway[-1][0]}"


def test_a_share_lowered_during_an_import_stops_it(app, client, member, integration, tmp_path):
    rows = 5 * BATCH_ROWS
    body, _ = multipart_file(tmp_path, csv_rows(rows))
    other = OtherWriter(app.config["HUB_SETTINGS"].database_url, integration)
    lowered_at: list[int] = []

    def lower_the_share(_session) -> None:
        visible = other.records()
        if visible and not lowered_at:
            assert other.write("UPDATE integration_shares SET access_level = 1 "
                               "WHERE integration_id = ? AND principal_id = ?",
                               integration, "mia") is None
            lowered_at.append(visible)

    with after_each_commit(app, lower_the_share):
        answer = post_file(client, member, integration, body)

    assert_problem(answer, 403, "forbidden")
    assert lowered_at and other.records() == lowered_at[0] < rows


# -- all or nothing, over many batches -------------------------------------------------------

@pytest.mark.parametrize("partial", [False, True])
def test_a_problem_on_the_last_line_of_a_long_file(client, member, integration, tmp_path,
                                                   partial):
    rows = 3 * BATCH_ROWS + 7
    last = rows + 1  # the header is line 1
    body, _ = multipart_file(tmp_path, csv_rows(rows, bad_line=last),
                             partial=json.dumps(partial))
    answer = post_file(client, member, integration, body)
    problem = {"line": last, "message": "expected 3 fields like the header, found 4"}
    if partial:
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.get_json()["created"] == rows - 1
        assert answer.get_json()["errors"] == [problem]
        assert stored_count(client, member, integration) == rows - 1
    else:
        body = assert_problem(answer, 422, "import_invalid")
        assert body["errors"] == [problem]
        assert stored_count(client, member, integration) == 0


def test_an_id_repeated_far_from_its_first_line_is_found(client, member, integration, tmp_path):
    rows = 3 * BATCH_ROWS

    def lines():
        yield from csv_rows(rows)
        yield b"r1,0,again\n"

    body, _ = multipart_file(tmp_path, lines())
    body_json = assert_problem(post_file(client, member, integration, body), 422,
                               "import_invalid")
    assert body_json["errors"] == [{"line": rows + 2,
                                    "message": 'duplicate id "r1" (first on line 3)'}]
    assert stored_count(client, member, integration) == 0
