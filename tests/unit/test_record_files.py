"""Uploaded records files: CSV with a header row or JSON Lines, rows and line-numbered errors.

Each file is read as an import reads it: as a stream, its rows staged (duplicate ids are
found there) and its problems listed, the first ``MAX_ERRORS`` in line order.
"""

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration_hub.records.files import MAX_ID_LENGTH, Row, UnreadableFile
from integration_hub.records.import_staging import (
    BATCH_BYTES,
    BATCH_ROWS,
    MAX_ERRORS,
    StagedRows,
    stage_records_file,
)

MISSING = "id is missing (a non-empty string or an integer)"
TOO_LONG = f"id is longer than {MAX_ID_LENGTH} characters"


@dataclass
class Parsed:
    format: str
    rows: list[Row] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


class Trickle(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes per read, as a slow upload would
    arrive: every chunk boundary of the reader falls somewhere else."""

    def __init__(self, content: bytes, step: int) -> None:
        self._content, self._step, self._at = content, step, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._at = offset if whence == io.SEEK_SET else len(self._content) + offset
        return self._at

    def read(self, size: int = -1) -> bytes:
        piece = self._content[self._at:self._at + min(self._step, max(size, 0) or self._step)]
        self._at += len(piece)
        return piece


def parse_records_file(content: bytes, step: int | None = None) -> Parsed:
    stream = io.BytesIO(content) if step is None else Trickle(content, step)
    with StagedRows() as staged:
        file_format, problems = stage_records_file(stream, staged)
        rows = [row for batch in staged.batches(BATCH_ROWS, BATCH_BYTES) for row in batch]
    return Parsed(file_format, rows, [(problem.line, problem.message) for problem in problems])


def unreadable(content: bytes, step: int | None = None) -> tuple[int, str]:
    with pytest.raises(UnreadableFile) as raised:
        parse_records_file(content, step)
    return raised.value.line, raised.value.message


def parse(text: str):
    return parse_records_file(text.encode())


def rows(parsed) -> list[tuple]:
    return [(row.line, row.record_id, row.data) for row in parsed.rows]


def typed(value):
    """12 and 12.0 compare equal: compare the types as well."""
    return type(value), value


def csv_text(*records: list[str], terminator: str = "\r\n") -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator=terminator).writerows(records)
    return out.getvalue()


# -- CSV ----------------------------------------------------------------------------------------

def test_csv_rows_with_line_numbers():
    parsed = parse("id,name,amount\n1,Ann,12\nb-2,Bob,-3.5\n")
    assert parsed.format == "csv" and parsed.errors == []
    assert rows(parsed) == [(2, "1", {"id": "1", "name": "Ann", "amount": 12}),
                            (3, "b-2", {"id": "b-2", "name": "Bob", "amount": -3.5})]


@pytest.mark.parametrize("cell, expected", [
    ("12", 12), ("0", 0), ("-0", 0), ("-3.5", -3.5), ("0.5", 0.5), ("1e3", 1000.0), ("1E-2", 0.01),
    ("1.5e+2", 150.0), ("999999999999999", 999999999999999), ("-999999999999999", -999999999999999),
    ("", None),
    # not written exactly as a JSON number, or too long to keep every digit: text
    ("007", "007"), ("00", "00"), ("1.", "1."), (".5", ".5"), ("+1", "+1"), (" 12", " 12"),
    ("12 ", "12 "), ("12\n", "12\n"), ("0x1f", "0x1f"), ("1_000", "1_000"), ("1,5", "1,5"),
    ("1234567890123456", "1234567890123456"), ("NaN", "NaN"), ("nan", "nan"), ("inf", "inf"),
    ("Infinity", "Infinity"), ("-Infinity", "-Infinity"), ("1e999", "1e999"), ("1e1000", "1e1000"),
    ("١٢", "١٢"), ("1٢", "1٢"), ("true", "true"), ("null", "null"), ("-", "-"), (" ", " "),
])
def test_csv_cell_values(cell, expected):
    parsed = parse(csv_text(["id", "v"], ["x", cell]))
    assert parsed.errors == []
    assert typed(parsed.rows[0].data["v"]) == typed(expected)


@pytest.mark.parametrize("cell, expected", [
    ("007", "007"), ("12", "12"), ("1e3", "1e3"), (" 42 ", "42"), ("a b", "a b"), ("-0", "-0"),
])
def test_csv_ids_are_always_text(cell, expected):
    parsed = parse(csv_text(["id", "v"], [cell, "1"]))
    assert rows(parsed) == [(2, expected, {"id": expected, "v": 1})]


def test_csv_quoted_fields_and_line_numbers_of_multi_line_rows():
    parsed = parse('id,note\n1,"a, b"\n2,"line one\nline two"\n3,"say ""hi"""\n4,"x\r\ny"\n5,z\n')
    assert parsed.errors == []
    assert rows(parsed) == [(2, "1", {"id": "1", "note": "a, b"}),
                            (3, "2", {"id": "2", "note": "line one\nline two"}),
                            (5, "3", {"id": "3", "note": 'say "hi"'}),
                            (6, "4", {"id": "4", "note": "x\r\ny"}),
                            (8, "5", {"id": "5", "note": "z"})]


@pytest.mark.parametrize("content", [
    b"id,name\n1,a\n2,b\n", b"\xef\xbb\xbfid,name\n1,a\n2,b\n", b"id,name\r\n1,a\r\n2,b\r\n",
    b"id,name\r1,a\r2,b", b" id , name \n1,a\n2,b",
], ids=["lf", "bom", "crlf", "cr", "spaced-header"])
@pytest.mark.parametrize("step", [None, 1, 2], ids=["whole", "bytewise", "by-2"])
def test_csv_bom_line_endings_and_header_spaces(content, step):
    parsed = parse_records_file(content, step)
    assert parsed.errors == []
    assert rows(parsed) == [(2, "1", {"id": "1", "name": "a"}), (3, "2", {"id": "2", "name": "b"})]


def test_csv_blank_lines_are_skipped_before_and_after_the_header():
    parsed = parse("\n\nid,n\n\n1,a\r\n\r\n\n2,b\n\n")
    assert parsed.errors == []
    assert rows(parsed) == [(5, "1", {"id": "1", "n": "a"}), (8, "2", {"id": "2", "n": "b"})]


@pytest.mark.parametrize("text, errors", [
    ("name,email\nAnn,a@x\n", [(1, "the header row has no id column")]),
    ("ID,name\n1,a\n", [(1, "the header row has no id column")]),
    ("\n\nname\nAnn\n", [(3, "the header row has no id column")]),
    ("id,,name\n1,2,3\n", [(1, "the header row has an empty column name")]),
    ("id,name,\n1,a,\n", [(1, "the header row has an empty column name")]),
    ("id,name,name,id\n1,a,b,1\n", [(1, 'the header row repeats "id", "name"')]),
    ("id,name, name\n1,a,b\n", [(1, 'the header row repeats "name"')]),
    (",x,x\n1,2,3\n", [(1, "the header row has no id column"), (1, "the header row has an empty column name"),
                      (1, 'the header row repeats "x"')]),
    ('id,"n\n1,a\n', [(1, "the header row cannot be read: unexpected end of data")]),
])
def test_csv_header_problems_leave_no_rows(text, errors):
    parsed = parse(text)
    assert parsed.format == "csv" and parsed.rows == [] and parsed.errors == errors


def test_a_header_of_many_columns_is_checked_in_one_pass():
    names = [f"c{n}" for n in range(200_000)]
    parsed = parse(",".join(["id", *names, "c7", "c99999", ""]) + "\n1\n")
    assert parsed.errors == [(1, "the header row has an empty column name"),
                             (1, 'the header row repeats "c7", "c99999"')]


def test_csv_row_problems_keep_the_other_rows():
    long_id = "x" * (MAX_ID_LENGTH + 1)
    text = (f"id,n\n1,a\n2,b,c\n3\n,d\n  ,e\n{long_id},f\n{'y' * MAX_ID_LENGTH},g\n 1 ,h\n"
            f"{'z' * 50},i\n{'z' * 50},j\n9,k\n")
    parsed = parse(text)
    assert parsed.errors == [
        (3, "expected 2 fields like the header, found 3"),
        (4, "expected 2 fields like the header, found 1"),
        (5, MISSING), (6, MISSING), (7, TOO_LONG),
        (9, 'duplicate id "1" (first on line 2)'),
        (11, f'duplicate id "{"z" * 40}…" (first on line 10)'),
    ]
    assert [(line, record_id) for line, record_id, _ in rows(parsed)] == [
        (2, "1"), (8, "y" * MAX_ID_LENGTH), (10, "z" * 50), (12, "9")]


@pytest.mark.parametrize("text, errors, parsed_ids", [
    ('id,n\n1,a\n2,"open\n3,c\n', [(3, "not valid CSV: unexpected end of data")], ["1"]),
    ('id,n\n1,a\n2,"a"b\n3,c\n', [(3, "not valid CSV: ',' expected after '\"'")], ["1"]),
    ('id,n\n1,"two\nlines"x\n3,c\n', [(2, "not valid CSV: ',' expected after '\"'")], []),
])
def test_csv_syntax_errors_name_the_row_and_stop(text, errors, parsed_ids):
    parsed = parse(text)
    assert parsed.errors == errors
    assert [row.record_id for row in parsed.rows] == parsed_ids


# -- JSON Lines ---------------------------------------------------------------------------------

@pytest.mark.parametrize("step", [None, 1, 5], ids=["whole", "bytewise", "by-5"])
def test_json_lines_rows(step):
    parsed = parse_records_file(
        '{"id": "a", "n": 1}\n\n  \t\n{"id": 7, "tags": ["x", 2], "o": {"k": null, "f": 1.5}}\r\n'
        '{"id": "c", "t": "x\u2028y\u0085z"}\n\n'.encode(), step)
    assert parsed.format == "jsonl" and parsed.errors == []
    assert rows(parsed) == [
        (1, "a", {"id": "a", "n": 1}),
        (4, "7", {"id": 7, "tags": ["x", 2], "o": {"k": None, "f": 1.5}}),
        (5, "c", {"id": "c", "t": "x\u2028y\u0085z"}),
    ]


def test_json_lines_after_leading_blank_lines_and_a_bom():
    parsed = parse_records_file(b'\xef\xbb\xbf\n  {"id": 0}\n{"id": -5}')
    assert rows(parsed) == [(2, "0", {"id": 0}), (3, "-5", {"id": -5})]


@pytest.mark.parametrize("line, message", [
    ('{"id": "a",}', "not valid JSON: Expecting property name enclosed in double quotes at column 12"),
    ('{"id": "a"', "not valid JSON: Expecting ',' delimiter at column 11"),
    ('{"id":"a"} {"id":"b"}', "not valid JSON: Extra data at column 12"),
    ("{'id': 'a'}", "not valid JSON: Expecting property name enclosed in double quotes at column 2"),
    ('{"id": "a", "v": NaN}', "not valid JSON: NaN is not a JSON number"),
    ('{"id": "a", "v": Infinity}', "not valid JSON: Infinity is not a JSON number"),
    ('{"id": "a", "v": -Infinity}', "not valid JSON: -Infinity is not a JSON number"),
    # parsers disagree on which of two values wins: refused as in request bodies
    ('{"id": "a", "id": "b"}', "not valid JSON: the key 'id' appears twice in one object"),
    ('{"id": "a", "v": {"k": 1, "k": 2}}', "not valid JSON: the key 'k' appears twice in one object"),
    ('["a", 1]', "each line must be one JSON object"), ("[]", "each line must be one JSON object"),
    ("3", "each line must be one JSON object"), ('"a"', "each line must be one JSON object"),
    ("null", "each line must be one JSON object"),
    ('{"name": "x"}', MISSING), ('{"id": null}', MISSING), ('{"id": true}', MISSING),
    ('{"id": false}', MISSING), ('{"id": 1.5}', MISSING), ('{"id": 1.0}', MISSING),
    ('{"id": {"k": 1}}', MISSING), ('{"id": ["a"]}', MISSING), ('{"id": ""}', MISSING),
    ('{"ID": "a"}', MISSING),
    (json.dumps({"id": "x" * (MAX_ID_LENGTH + 1)}), TOO_LONG), (json.dumps({"id": 10 ** 300}), TOO_LONG),
])
def test_json_lines_bad_lines(line, message):
    parsed = parse(f'{{"id": "first"}}\n\n{line}\n{{"id": "last"}}\n')
    assert parsed.errors == [(3, message)]
    assert [(row.line, row.record_id) for row in parsed.rows] == [(1, "first"), (4, "last")]


def test_json_lines_duplicate_ids_compare_as_text():
    parsed = parse('{"id": "1"}\n{"id": 2}\n{"id": 1}\n{"id": "2"}\n')
    assert parsed.errors == [(3, 'duplicate id "1" (first on line 1)'),
                             (4, 'duplicate id "2" (first on line 2)')]
    assert [row.record_id for row in parsed.rows] == ["1", "2"]


def test_a_json_array_is_refused_line_by_line():
    assert parse('[{"id": "a"}, {"id": "b"}]').errors == [(1, "each line must be one JSON object")]
    parsed = parse('[\n{"id": "a"},\n{"id": "b"}\n]\n')
    assert parsed.format == "jsonl"
    assert parsed.errors == [(1, "not valid JSON: Expecting value at column 2"),
                             (2, "not valid JSON: Extra data at column 12"),
                             (4, "not valid JSON: Expecting value at column 1")]
    assert rows(parsed) == [(3, "b", {"id": "b"})]


# -- the whole file -----------------------------------------------------------------------------

@pytest.mark.parametrize("content, error", [
    (b"", (1, "the file is empty")),
    (b" \n\t\r\n  ", (1, "the file is empty")),
    (b"\xef\xbb\xbf", (1, "the file is empty")),
    (b"id,n\n1,a\n2,\xff\n", (3, "the file is not UTF-8 text")),
    (b"\xef\xbb\xbfid,n\n1,a\n2,\xff\n", (3, "the file is not UTF-8 text")),
    (b"id,n\n1,caf\xe9\n", (2, "the file is not UTF-8 text")),
    (b'{"id": "a"}\n{"id": "\xe2\x82"}', (2, "the file is not UTF-8 text")),
    (b"\xfe\xffid", (1, "the file is not UTF-8 text")),
    (b"id,n\n1,a\n\n2,b\xe2\x82", (4, "the file is not UTF-8 text")),  # cut short at the end
    (b"id,n\n1,a\x00\n", (2, "the file holds a NUL character")),
    (b'\x00{"id": "a"}', (1, "the file holds a NUL character")),
    (b"id,n\n1,\x00\n2,\xff\n", (2, "the file holds a NUL character")),  # the first comes first
    (b"id,n\n1,\xff\n2,\x00\n", (2, "the file is not UTF-8 text")),
])
@pytest.mark.parametrize("step", [None, 1, 3], ids=["whole", "bytewise", "by-3"])
def test_unreadable_files(content, error, step):
    assert unreadable(content, step) == error


def test_a_file_unreadable_far_down_is_unreadable_whatever_came_before():
    rows = "".join(f"{n},x\n" for n in range(5000))
    bad_rows = "1,a,b\n" * 300
    content = ("id,n\n" + bad_rows + rows).encode() + b"9,\xff\n"
    assert unreadable(content) == (5302, "the file is not UTF-8 text")
    assert unreadable(content.replace(b"\xff", b"\x00")) == (5302, "the file holds a NUL character")


@pytest.mark.parametrize("text, first", [
    ("\n".join(["[]"] * (MAX_ERRORS + 50)), 1),
    ("id,n\n" + "\n".join(f"{i},a,b" for i in range(MAX_ERRORS + 50)), 2),
], ids=["jsonl", "csv"])
def test_the_error_list_is_capped(text, first):
    parsed = parse(text)
    assert [line for line, _ in parsed.errors] == list(range(first, first + MAX_ERRORS))


def test_the_error_list_holds_the_first_lines_problems_in_order():
    # Repeated ids are found a batch of rows later than the other problems; every line
    # from 2 on has a problem, each kind on every other line, over several batches.
    lines = ["id,n"] + [f"{n},a" for n in range(BATCH_ROWS)]
    lines += [f"{n},a" if number % 2 else f"{n},a,b" for number, n in enumerate(range(3 * BATCH_ROWS))]
    parsed = parse("\n".join(lines) + "\n")
    assert [line for line, _ in parsed.errors] == list(range(BATCH_ROWS + 2, BATCH_ROWS + 102))
    assert parsed.errors[:2] == [(BATCH_ROWS + 2, "expected 2 fields like the header, found 3"),
                                 (BATCH_ROWS + 3, 'duplicate id "1" (first on line 3)')]


# -- round trips --------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)
# "." and ".." cannot be named in a link and are refused (docs/security.md, "Links built
# from data"): tests/security/test_hrefs_from_data.py holds that case
IDS = TEXT.filter(lambda text: text and text == text.strip() and text not in (".", ".."))
JSON_VALUES = st.none() | st.booleans() | st.integers(-(2 ** 63), 2 ** 63) | TEXT \
    | st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(IDS | st.integers(-(2 ** 63), 2 ** 63), st.dictionaries(TEXT, JSON_VALUES,
                                                                                   max_size=4)),
                unique_by=lambda pair: str(pair[0]), min_size=1, max_size=10),
       st.sampled_from(["\n", "\r\n"]), st.sampled_from([None, 1, 2, 7]))
def test_json_lines_round_trip(records, newline, step):
    items = [{**fields, "id": record_id} for record_id, fields in records]
    text = newline.join(json.dumps(item, ensure_ascii=False) for item in items) + newline
    parsed = parse_records_file(text.encode(), step)
    assert parsed.format == "jsonl" and parsed.errors == []
    assert rows(parsed) == [(line, str(item["id"]), item) for line, item in enumerate(items, start=1)]


NUMBER_LIKE = st.from_regex(r"-?[0-9]{1,17}(\.[0-9]{0,16})?([eE][+-]?[0-9]{1,4})?", fullmatch=True)
TRICKY = st.sampled_from(["", "007", "1.", "+1", " 12", "12\n", "0x1f", "NaN", "inf", "1e999", "-0"])
CELLS = TEXT | NUMBER_LIKE | TRICKY
JSON_NUMBER = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?(?:[eE][+-]?([0-9]+))?")


def documented_cell(text: str):
    """The module docstring's rule, written independently: empty is null; a JSON number with
    no leading zero, at most 15 integer and fraction digits (and 3 exponent digits) that
    stays finite is that number; anything else is the text itself."""
    if text == "":
        return None
    number = JSON_NUMBER.fullmatch(text)
    if number is None or len(number[1]) > 15 or (number[1].startswith("0") and number[1] != "0"):
        return text
    if len(number[2] or "") > 15 or len(number[3] or "") > 3:
        return text
    value = float(text) if number[2] is not None or number[3] is not None else int(text)
    return value if math.isfinite(value) else text


@settings(max_examples=200, deadline=None)
@given(st.lists(IDS.filter(lambda name: name != "id"), unique=True, max_size=4),
       st.lists(IDS, unique=True, min_size=1, max_size=8), st.data(),
       st.sampled_from([None, 1, 2, 7]))
def test_csv_round_trip(names, ids, data, step):
    cells = [[data.draw(CELLS) for _ in names] for _ in ids]
    text = csv_text(["id", *names], *([record_id, *row] for record_id, row in zip(ids, cells, strict=True)))
    parsed = parse_records_file(text.encode(), step)
    assert parsed.format == "csv" and parsed.errors == []
    assert [row.record_id for row in parsed.rows] == ids
    for row, record_id, row_cells in zip(parsed.rows, ids, cells, strict=True):
        expected = {name: documented_cell(cell) for name, cell in zip(names, row_cells, strict=True)}
        assert {name: typed(value) for name, value in row.data.items()} == \
            {name: typed(value) for name, value in {**expected, "id": record_id}.items()}
