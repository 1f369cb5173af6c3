"""``read_stored``, the JSON loader of the hub's engine: valid JSON of any depth or number is
read without an error; parts deeper than the hub reads come back as their own JSON text."""

from __future__ import annotations

import json

import pytest

from integration_hub.json_body import MAX_DEPTH, read_stored


def arrays(depth: int, inner: str = "") -> str:
    return "[" * depth + inner + "]" * depth


def objects(depth: int, inner: str = "1") -> str:
    return '{"k": ' * depth + inner + "}" * depth


def down(value, levels: int):
    for _ in range(levels):
        value = value[0] if isinstance(value, list) else value["k"]
    return value


@pytest.mark.parametrize("document", [
    "{}", "[]", '"text"', "12", "-0.5", "null", "true",
    '{"a": "[[[{{{", "b": ["]]]", "\\"[", "\\\\"], "c": {"d": [1, 2.5e10, null]}}',
    arrays(MAX_DEPTH), objects(MAX_DEPTH), arrays(MAX_DEPTH // 2, objects(MAX_DEPTH // 2)),
    json.dumps({"caf\u00e9": "\U0001f600", "n": 10 ** 300}),
])
def test_what_the_hub_accepts_comes_back_as_it_was(document):
    assert read_stored(document) == json.loads(document)
    assert read_stored(document.encode()) == json.loads(document)


@pytest.mark.parametrize("make", [arrays, objects], ids=["arrays", "objects"])
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
def test_what_is_deeper_comes_back_as_its_text(make, depth):
    document = make(depth)
    value = read_stored(document)
    # the levels the hub reads stay; the first one below is its own text
    rest = down(value, MAX_DEPTH - 1)
    assert isinstance(rest, (list, dict)) and len(rest) == 1
    below = rest[0] if isinstance(rest, list) else rest["k"]
    assert below == make(depth - MAX_DEPTH)


def test_brackets_and_quotes_in_strings_do_not_count():
    inner = '"]]]}}} \\" [[[{{{"'
    value = read_stored(arrays(MAX_DEPTH + 2, inner))
    assert down(value, MAX_DEPTH) == arrays(2, inner)
    assert json.loads(down(value, MAX_DEPTH)) == [[json.loads(inner)]]


def test_several_deep_parts_and_what_lies_between_them():
    document = ('{"a": ' + arrays(MAX_DEPTH + 5) + ', "b": "x", "c": '
                + objects(MAX_DEPTH + 1) + ', "d": [1, "]"]}')
    value = read_stored(document)
    assert value["b"] == "x" and value["d"] == [1, "]"]
    # the outer object is level 1, "a" and "c" start at level 2
    assert down(value["a"], MAX_DEPTH - 1) == arrays(6)
    assert down(value["c"], MAX_DEPTH - 1) == objects(2)


@pytest.mark.parametrize("number", ["9" * 5000, "-" + "9" * 5000, "1e400", "-1e400"])
def test_numbers_python_or_json_cannot_hold_come_back_as_text(number):
    assert read_stored(f'{{"n": {number}, "m": 2}}') == {"n": number, "m": 2}


def test_constants_only_older_writers_allowed_come_back_as_text():
    assert read_stored('[NaN, Infinity, -Infinity]') == ["NaN", "Infinity", "-Infinity"]
