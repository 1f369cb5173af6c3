"""query_values: every value a database gives becomes JSON that strict parsers read, the same
way wherever it stands (a column, an array, a JSON document)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration_hub.databases.query_values import MAX_DEPTH, ValueTooDeep, column_type, json_safe

NON_FINITE = [math.nan, math.inf, -math.inf]
# Values a driver hands over, beside the plain JSON ones.
DRIVER_VALUES = [
    *NON_FINITE, 1.5, decimal.Decimal("1.10"), decimal.Decimal("NaN"),
    dt.datetime(2024, 1, 31, 10, 20, 30), dt.date(2024, 2, 29), dt.time(10, 20, 30),
    dt.timedelta(days=1, hours=2), b"\x00\x01\xfehub\xff", bytearray(b"ab"), memoryview(b"cd"),
    uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
]


def strict(value) -> str:
    """JSON as the answer is written, refusing NaN and Infinity (not JSON)."""
    return json.dumps(value, allow_nan=False)


@pytest.mark.parametrize("value", NON_FINITE, ids=str)
def test_a_non_finite_float_is_text_at_the_top_and_inside_arrays_and_objects(value):
    top = json_safe(value)
    assert isinstance(top, str)
    assert json_safe([1.0, value, [value]]) == [1.0, top, [top]]
    assert json_safe({"a": value, "b": {"c": [value]}}) == {"a": top, "b": {"c": [top]}}
    strict(json_safe([value, {"x": value}]))


@pytest.mark.parametrize("value", DRIVER_VALUES,
                         ids=[f"{type(v).__name__}-{i}" for i, v in enumerate(DRIVER_VALUES)])
def test_a_value_inside_an_array_is_answered_as_it_is_alone(value):
    alone = json_safe(value)
    strict(alone)
    assert json_safe([value]) == [alone]
    assert json_safe([[value], {"k": value}]) == [[alone], {"k": alone}]


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@given(json_like)
def test_any_nested_value_becomes_strict_json(value):
    safe = json_safe(value)
    assert json.loads(strict(safe)) == safe


def nested(depth: int, inner):
    value = inner
    for level in range(depth - 1):
        value = [value] if level % 2 else {"k": value}
    return value


def test_nesting_up_to_the_limit_is_answered_and_deeper_is_refused_without_recursion():
    safe = json_safe(nested(MAX_DEPTH, [math.nan]))
    assert json.loads(strict(safe)) == safe
    for depth in (MAX_DEPTH + 1, 100_000):  # far past Python's recursion limit too
        with pytest.raises(ValueTooDeep) as refused:
            json_safe(nested(depth, [1]))
        assert refused.value.status == 422 and refused.value.code == "query_value_too_deep"


@pytest.mark.parametrize(("value", "name"), [
    (True, "boolean"), (3, "integer"), (1.5, "number"), (math.nan, "number"),
    (decimal.Decimal("1"), "decimal"), ("x", "string"), (dt.datetime(2024, 1, 1), "datetime"),
    (dt.date(2024, 1, 1), "date"), (dt.time(1), "time"), (dt.timedelta(1), "interval"),
    (b"x", "binary"), (uuid.uuid4(), "uuid"), ([1], "json"), ({"a": 1}, "json"),
    (None, "unknown"), (object(), "string"),
])
def test_column_types(value, name):
    assert column_type(value) == name
