"""Rows of an import on their way to the records store.

An import checks the whole file before it writes a record, and holds only a batch of rows
in memory meanwhile. The rows it has checked wait here: in a private SQLite database of the
import's own, a file in the temporary folder (SQLite's: ``SQLITE_TMPDIR``, else ``TMPDIR``,
else ``/var/tmp`` or ``/tmp``) that SQLite deletes when it is closed or the process ends.
It is not the hub's database, so staging takes no lock there, whichever database the hub
uses. Its unique index finds an id that repeats anywhere in the file; the rows come back
in the order of their lines, a batch at a time.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import BinaryIO

from integration_hub.records.files import LineError, RecordsFile, Row, quote

MAX_ERRORS = 100  # an answer lists at most this many problems: those of the first lines
BATCH_ROWS = 1000  # rows held in memory at once, and written in one transaction
BATCH_BYTES = 512 * 1024  # ... and about this many characters of them
_IN_CHUNK = 500  # ids per IN (...): below every SQLite's limit of bound parameters


def stage_records_file(stream: BinaryIO, staged: StagedRows) -> tuple[str, list[LineError]]:
    """Read a whole records file into ``staged``: its format and the problems of its
    first lines (at most ``MAX_ERRORS``, in line order). Rows with problems, and rows
    whose id an earlier row has, are not staged. ``UnreadableFile`` when the file cannot
    be read (its rows staged so far are then of no use)."""
    records_file = RecordsFile(stream)
    problems: list[LineError] = []

    def note(found: Sequence[LineError]) -> None:
        for problem in found:  # the first lines' problems, in order; equal lines as found
            if len(problems) < MAX_ERRORS or problem.line < problems[-1].line:
                bisect.insort(problems, problem, key=lambda known: known.line)
                del problems[MAX_ERRORS:]

    batch: list[Row] = []
    size = 0
    for item in records_file:
        if isinstance(item, LineError):
            note([item])
            continue
        batch.append(item)
        size += item.size
        if len(batch) >= BATCH_ROWS or size >= BATCH_BYTES:
            note(staged.add(batch))
            batch, size = [], 0
    note(staged.add(batch))
    return records_file.format, problems


class StagedRows:
    """A file's rows, unique by id, in line order; ``count`` of them so far."""

    def __init__(self) -> None:
        # "": a temporary database on disk, removed on close; a few MiB of page cache.
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")  # a scratch file: nothing to roll back
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE staged (line INTEGER PRIMARY KEY, "
                         "record_id TEXT NOT NULL UNIQUE, data TEXT NOT NULL)")
        self.count = 0

    def __enter__(self) -> StagedRows:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._db.close()

    def add(self, rows: Sequence[Row]) -> list[LineError]:
        """Stage rows (in line order, after those added before); a row whose id an
        earlier line has is left out and answered as an error."""
        if not rows:
            return []
        before = self._db.total_changes
        self._db.executemany(
            "INSERT OR IGNORE INTO staged (line, record_id, data) VALUES (?, ?, ?)",
            ((row.line, row.record_id, json.dumps(row.data, ensure_ascii=False,
                                                  allow_nan=False)) for row in rows))
        added = self._db.total_changes - before
        self.count += added
        if added == len(rows):
            return []
        first = self._first_lines([row.record_id for row in rows])
        return [LineError(row.line, f"duplicate id {quote(row.record_id)} "
                                    f"(first on line {first[row.record_id]})")
                for row in rows if first[row.record_id] != row.line]

    def _first_lines(self, ids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for offset in range(0, len(ids), _IN_CHUNK):
            chunk = ids[offset:offset + _IN_CHUNK]
            found.update(self._db.execute(
                f"SELECT record_id, line FROM staged WHERE record_id IN "
                f"({', '.join('?' * len(chunk))})", chunk))
        return found

    def batches(self, max_rows: int, max_bytes: int) -> Iterator[list[Row]]:
        """The staged rows in line order, in lists of at most ``max_rows`` rows and, but
        for a single larger row, ``max_bytes`` characters of JSON."""
        batch: list[Row] = []
        size = 0
        for line, record_id, data in self._db.execute(
                "SELECT line, record_id, data FROM staged ORDER BY line"):
            if batch and (len(batch) >= max_rows or size + len(data) > max_bytes):
                yield batch
                batch, size = [], 0
            batch.append(Row(line, record_id, json.loads(data)))
            size += len(data)
        if batch:
            yield batch
