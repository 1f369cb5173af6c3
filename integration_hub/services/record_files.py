"""Reading an uploaded records file: CSV with a header row, or JSON Lines.

Pure: bytes in, rows and line-numbered errors out. The format is recognised by
content, not by name: a file whose first non-blank character is ``{`` or ``[`` is
JSON Lines (an array is then refused line by line), anything else is CSV. Every row
needs an ``id``; ids are unique within a file. A JSON line must also be storable as it
is on both databases: no NUL character (escaped as u0000) or unpaired surrogate in its
strings, no number beyond the range of a double, at most ``MAX_DEPTH`` levels of
nesting. CSV cells are text, except that an empty cell is null and a cell written
exactly as a JSON number (``12``, ``-3.5``, ``1e3``; no leading zeros, at most 15
integer digits) is that number, so ``sum`` works on imported amounts while ``007`` and
long account numbers stay text. Ids always stay text.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

MAX_ID_LENGTH = 256
MAX_ERRORS = 100  # an answer lists at most this many problems
MAX_DEPTH = 100  # levels of arrays and objects in a JSON line (the line's object is level 1)
# ASCII digits only (``\d`` alone takes any Unicode digit, which int() and float() accept);
# used with fullmatch, as ``$`` would also match before a final newline.
_NUMBER = re.compile(r"-?(0|[1-9]\d{0,14})(\.\d{1,15})?([eE][+-]?\d{1,3})?", re.ASCII)
# JSON Lines separate records by newlines only: str.splitlines() would also split inside a
# string at U+2028, U+2029 or U+0085, which JSON allows unescaped.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class Row:
    line: int
    record_id: str
    data: dict[str, Any]


@dataclass
class ParsedFile:
    format: str                      # csv | jsonl
    rows: list[Row] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)

    def fail(self, line: int, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append((line, message))


def parse_records_file(content: bytes) -> ParsedFile:
    # The BOM is dropped before decoding so that a decoding error's offset counts in the
    # same bytes as the line count below.
    body = content[len(codecs.BOM_UTF8):] if content.startswith(codecs.BOM_UTF8) else content
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as problem:
        parsed = ParsedFile("unknown")
        parsed.fail(body[:problem.start].count(b"\n") + 1, "the file is not UTF-8 text")
        return parsed
    if "\x00" in text:
        parsed = ParsedFile("unknown")
        parsed.fail(text[:text.index("\x00")].count("\n") + 1, "the file holds a NUL character")
        return parsed
    if not text.strip():
        parsed = ParsedFile("unknown")
        parsed.fail(1, "the file is empty")
        return parsed
    if text.lstrip()[0] in "{[":
        return _json_lines(text)
    return _csv(text)


def _check_id(parsed: ParsedFile, seen: dict[str, int], line: int, value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, bool) or not isinstance(value, (str, int)):
        parsed.fail(line, "id is missing (a non-empty string or an integer)")
        return None
    record_id = str(value)
    if len(record_id) > MAX_ID_LENGTH:
        parsed.fail(line, f"id is longer than {MAX_ID_LENGTH} characters")
        return None
    if record_id in seen:
        parsed.fail(line, f"duplicate id {_quote(record_id)} (first on line {seen[record_id]})")
        return None
    seen[record_id] = line
    return record_id


def _quote(value: str) -> str:
    return json.dumps(value if len(value) <= 40 else value[:40] + "…", ensure_ascii=False)


# -- JSON Lines ---------------------------------------------------------------------------------

def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _out_of_range(text: str) -> ValueError:
    return ValueError(f"the number {text if len(text) <= 40 else text[:40] + '…'} is out of range")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400: JSON allows it, the databases do not
        raise _out_of_range(text)
    return number


def _int_in_range(text: str) -> int:
    number = int(text)  # more than 4300 digits: ValueError
    try:
        float(number)
    except OverflowError:
        raise _out_of_range(text) from None
    return number


def _unstorable(item: dict) -> str | None:
    """Why the databases would refuse the parsed line (PostgreSQL refuses NUL in text and
    JSONB, neither driver encodes a lone surrogate), or None. Iterative: no recursion."""
    pending: list[tuple[Any, int]] = [(item, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            if isinstance(value, dict):
                pending.extend((key, depth) for key in value)
                pending.extend((child, depth + 1) for child in value.values())
            else:
                pending.extend((child, depth + 1) for child in value)
        elif isinstance(value, str):
            if "\x00" in value:
                return "a string holds a NUL character (\\u0000)"
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds an unpaired surrogate (\\ud800-\\udfff)"
    return None


def _json_lines(text: str) -> ParsedFile:
    parsed = ParsedFile("jsonl")
    seen: dict[str, int] = {}
    for line, raw in enumerate(_LINE_BREAK.split(text), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float,
                              parse_int=_int_in_range)
        except ValueError as problem:
            parsed.fail(line, f"not valid JSON: {_reason(problem)}")
            continue
        except RecursionError:
            parsed.fail(line, f"nested deeper than {MAX_DEPTH} levels")
            continue
        if not isinstance(item, dict):
            parsed.fail(line, "each line must be one JSON object")
            continue
        if (problem := _unstorable(item)) is not None:
            parsed.fail(line, problem)
            continue
        record_id = _check_id(parsed, seen, line, item.get("id"))
        if record_id is not None:
            parsed.rows.append(Row(line, record_id, item))
    return parsed


def _reason(problem: ValueError) -> str:
    if isinstance(problem, json.JSONDecodeError):
        return f"{problem.msg} at column {problem.colno}"
    return str(problem)


# -- CSV ----------------------------------------------------------------------------------------

def _csv(text: str) -> ParsedFile:
    parsed = ParsedFile("csv")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] = []
    try:
        while not header:  # blank lines before the header are skipped like any other
            header_line = reader.line_num + 1
            header = next(reader)
    except (csv.Error, StopIteration) as problem:
        parsed.fail(header_line, f"the header row cannot be read: {problem}")
        return parsed
    names = [name.strip() for name in header]
    if _header_problems(parsed, header_line, names):
        return parsed
    seen: dict[str, int] = {}
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as problem:
            # The row's first line, like every other row error: an unclosed quote is only
            # noticed at the end of the file, far from the quote itself.
            parsed.fail(start, f"not valid CSV: {problem}")
            break
        line = reader.line_num
        if not cells:
            continue  # a blank line
        if len(cells) != len(names):
            parsed.fail(start, f"expected {len(names)} fields like the header, found {len(cells)}")
            continue
        data = {name: _cell(value) for name, value in zip(names, cells, strict=True)}
        data["id"] = cells[names.index("id")].strip()
        record_id = _check_id(parsed, seen, start, data["id"])
        if record_id is not None:
            parsed.rows.append(Row(start, record_id, data))
    return parsed


def _header_problems(parsed: ParsedFile, line: int, names: list[str]) -> bool:
    if "id" not in names:
        parsed.fail(line, "the header row has no id column")
    if any(not name for name in names):
        parsed.fail(line, "the header row has an empty column name")
    duplicates = sorted({name for name in names if name and names.count(name) > 1})
    if duplicates:
        parsed.fail(line, "the header row repeats " + ", ".join(_quote(n) for n in duplicates))
    return bool(parsed.errors)


def _cell(value: str) -> Any:
    if value == "":
        return None
    if _NUMBER.fullmatch(value):
        number = float(value) if any(c in value for c in ".eE") else int(value)
        if isinstance(number, float) and not math.isfinite(number):
            return value
        return number
    return value
