"""Reading an uploaded records file: CSV with a header row, or JSON Lines.

Pure and streaming: a binary stream in, rows and line-numbered errors out, one at a time,
holding a chunk of the file and the row being read, never the whole file or its text. The
format is recognised by content, not by name: a file whose first non-blank character is
``{`` or ``[`` is JSON Lines (an array is then refused line by line), anything else is
CSV. Every row needs an ``id`` (whether an id repeats is for the caller to find: see
``import_staging``). A JSON line is read by the rules of request bodies (json_body.py: at
most ``MAX_DEPTH`` levels of nesting, no number beyond the range of a double, no ``NaN``,
no key twice in one object), and must be storable as it is on both databases: no NUL
character (escaped as u0000) or unpaired surrogate in its strings. CSV cells are text,
except that an empty cell is null and a cell written exactly as a JSON number (``12``,
``-3.5``, ``1e3``; no leading zeros, at most 15 integer digits) is that number, so ``sum``
works on imported amounts while ``007`` and long account numbers stay text. Ids always
stay text.

A file that is not UTF-8 text, holds a NUL character or is empty cannot be read at all:
``UnreadableFile``, raised when the reader gets there, names the line.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from integration_hub import json_body
from integration_hub.hal.documents import DOT_SEGMENTS

MAX_ID_LENGTH = 256
MAX_DEPTH = json_body.MAX_DEPTH  # levels in a JSON line, as in a request body (level 1: the line)
CHUNK_BYTES = 64 * 1024
# ASCII digits only (``\d`` alone takes any Unicode digit, which int() and float() accept);
# used with fullmatch, as ``$`` would also match before a final newline.
_NUMBER = re.compile(r"-?(0|[1-9]\d{0,14})(\.\d{1,15})?([eE][+-]?\d{1,3})?", re.ASCII)


@dataclass
class Row:
    line: int
    record_id: str
    data: dict[str, Any]
    size: int = 0  # characters the row takes in the file, about


@dataclass(frozen=True, order=True)
class LineError:
    line: int
    message: str


class UnreadableFile(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


class RecordsFile:
    """An uploaded file (a seekable stream) being read: its ``format`` (csv or jsonl) is
    known once it is open; iterating reads it, giving rows and errors in the order of
    their lines."""

    def __init__(self, stream: BinaryIO) -> None:
        start = stream.tell()
        # The first non-blank character decides; the blank lines before it are read again
        # with the rest rather than kept (a file may be nothing else up to its limit).
        first = next((line for line in text_lines(stream) if line.strip()), None)
        if first is None:
            raise UnreadableFile(1, "the file is empty")
        self.format = "jsonl" if first.lstrip()[0] in "{[" else "csv"
        stream.seek(start)
        self._stream = stream

    def __iter__(self) -> Iterator[Row | LineError]:
        lines = text_lines(self._stream)
        return _json_lines(lines) if self.format == "jsonl" else _csv(lines)


# -- text ---------------------------------------------------------------------------------------

def text_lines(stream: BinaryIO) -> Iterator[str]:
    """The file's lines with their line breaks, as ``open(..., newline="")`` splits them:
    at ``\\n``, ``\\r\\n`` and ``\\r`` only (JSON allows U+2028 unescaped inside a string;
    CSV cells may hold any of them), decoded as UTF-8 with an optional BOM."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    newlines = 0  # "\n" in the text decoded so far: error lines count like the rows' lines
    pending: list[str] = []  # the start of a line the next chunk goes on with
    while True:
        chunk = stream.read(CHUNK_BYTES)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as problem:
            valid = problem.object[:problem.start]
            if b"\x00" in valid:
                raise _nul(newlines, valid.decode("utf-8", "replace")) from None
            raise UnreadableFile(newlines + valid.count(b"\n") + 1,
                                 "the file is not UTF-8 text") from None
        if "\x00" in text:
            raise _nul(newlines, text)
        newlines += text.count("\n")
        if "\n" in text or "\r" in text:
            lines = io.StringIO("".join(pending) + text, newline="").readlines()
            # A last line without its break goes on in the next chunk; so may one ending
            # in "\r", whose "\n" may come first thing next.
            pending = [lines.pop()] if not lines[-1].endswith("\n") else []
            yield from lines
        elif text:
            pending.append(text)
        if not chunk:  # what is pending may still hold a "\r" that ends a line
            yield from io.StringIO("".join(pending), newline="").readlines()
            return


def _nul(newlines: int, text: str) -> UnreadableFile:
    return UnreadableFile(newlines + text[:text.index("\x00")].count("\n") + 1,
                          "the file holds a NUL character")


def check_id(line: int, value: Any) -> str | LineError:
    if value is None or value == "" or isinstance(value, bool) or not isinstance(value, (str, int)):
        return LineError(line, "id is missing (a non-empty string or an integer)")
    record_id = str(value)
    if len(record_id) > MAX_ID_LENGTH:
        return LineError(line, f"id is longer than {MAX_ID_LENGTH} characters")
    if record_id in DOT_SEGMENTS:  # no link could name the record (hal.path_segment)
        return LineError(line, f"id {record_id!r} cannot be named in a link; use another id")
    return record_id


def quote(value: str) -> str:
    """A value of the file, shortened, as an error message shows it."""
    return json.dumps(value if len(value) <= 40 else value[:40] + "…", ensure_ascii=False)


# -- JSON Lines ---------------------------------------------------------------------------------

def unstorable(item: dict) -> str | None:
    """Why the databases would refuse the parsed line (PostgreSQL refuses NUL in text and
    JSONB, neither driver encodes a lone surrogate), or None. Iterative: no recursion."""
    pending: list[Any] = [item]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                return "a string holds a NUL character (\\u0000)"
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds an unpaired surrogate (\\ud800-\\udfff)"
    return None


def json_objects(lines: Iterator[str], depth: int = MAX_DEPTH,
                 ) -> Iterator[tuple[int, str, dict[str, Any] | LineError]]:
    """(line number, raw line, its object or why not) for each line that is not blank:
    strict JSON, at most ``depth`` levels, one object, nothing a database would refuse.
    The lines of any JSON Lines file an import reads (records/lineage.py too)."""
    for line, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            item = json_body.strict_loads(raw.rstrip("\r\n"), depth)
        except json_body.TooDeep as deep:
            yield line, raw, LineError(line, str(deep))
            continue
        except ValueError as problem:
            yield line, raw, LineError(
                line, f"not valid JSON: {json_body.reason(problem, lines=False)}")
            continue
        if not isinstance(item, dict):
            yield line, raw, LineError(line, "each line must be one JSON object")
        elif (problem := unstorable(item)) is not None:
            yield line, raw, LineError(line, problem)
        else:
            yield line, raw, item


def _json_lines(lines: Iterator[str]) -> Iterator[Row | LineError]:
    for line, raw, item in json_objects(lines):
        if isinstance(item, LineError):
            yield item
            continue
        checked = check_id(line, item.get("id"))
        yield checked if isinstance(checked, LineError) else Row(line, checked, item, len(raw))


# -- CSV ----------------------------------------------------------------------------------------

def _csv(lines: Iterator[str]) -> Iterator[Row | LineError]:
    reader = csv.reader(lines, strict=True)
    header: list[str] = []
    try:
        while not header:  # blank lines before the header are skipped like any other
            header_line = reader.line_num + 1
            header = next(reader)
    except (csv.Error, StopIteration) as problem:
        yield LineError(header_line, f"the header row cannot be read: {problem}")
        return
    names = [name.strip() for name in header]
    problems = _header_problems(header_line, names)
    if problems:
        yield from problems
        return
    id_column = names.index("id")
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as problem:
            # The row's first line, like every other row error: an unclosed quote is only
            # noticed at the end of the file, far from the quote itself.
            yield LineError(start, f"not valid CSV: {problem}")
            return
        line = reader.line_num
        if not cells:
            continue  # a blank line
        if len(cells) != len(names):
            yield LineError(start, f"expected {len(names)} fields like the header, "
                                   f"found {len(cells)}")
            continue
        data = {name: _cell(value) for name, value in zip(names, cells, strict=True)}
        data["id"] = cells[id_column].strip()
        checked = check_id(start, data["id"])
        yield (checked if isinstance(checked, LineError)
               else Row(start, checked, data, sum(map(len, cells)) + len(cells)))


def _header_problems(line: int, names: list[str]) -> list[LineError]:
    problems = []
    if "id" not in names:
        problems.append(LineError(line, "the header row has no id column"))
    if any(not name for name in names):
        problems.append(LineError(line, "the header row has an empty column name"))
    counts = Counter(names)  # in one pass: a header may have a million columns
    duplicates = sorted(name for name, count in counts.items() if name and count > 1)
    if duplicates:
        problems.append(LineError(line, "the header row repeats "
                                        + ", ".join(quote(n) for n in duplicates)))
    return problems


def _cell(value: str) -> Any:
    if value == "":
        return None
    if _NUMBER.fullmatch(value):
        number = float(value) if any(c in value for c in ".eE") else int(value)
        if isinstance(number, float) and not math.isfinite(number):
            return value
        return number
    return value
