"""The pure parts of ``store sum`` (records/sums.py): SQLite's exact aggregate and how
a total is written (docs/api-conventions.md, "Numbers")."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration_hub.records import sums as record_sums
from integration_hub.records.sums import ExactSum, as_json, digits, plain

LARGEST = sys.float_info.max


def aggregate(values) -> str:
    """What SQLite's aggregate answers for these JSON numbers, given as ``[n,n]`` arrays."""
    total = ExactSum()
    for value in values:
        text = json.dumps(value)
        total.step(f"[{text},{text}]")
    total.step(None)  # a record whose field is not a number
    return total.finalize()


@pytest.mark.parametrize(("total", "answered"), [
    (Decimal(0), 0),
    (Decimal("-0.0"), 0),
    (Decimal("3.0"), 3),
    (Decimal("0.3"), 0.3),
    (Decimal(2 ** 63), 2 ** 63),
    (Decimal(LARGEST), int(LARGEST)),
    (Decimal("2E+308"), "2" + "0" * 308),
    (Decimal("-2E+308"), "-2" + "0" * 308),
    (Decimal("2" + "0" * 308 + ".50"), "2" + "0" * 308 + ".5"),
])
def test_as_json_table(total, answered):
    assert as_json(total) == answered and type(as_json(total)) is type(answered)


@pytest.mark.parametrize("total", [Decimal("1E+1000"), Decimal("1E-1001"), None])
def test_totals_past_the_digit_limit_are_refused(total):
    with pytest.raises(record_sums.SumOutOfRange):
        as_json(total, "v")


def test_the_aggregate_is_exact_where_doubles_are_not():
    assert aggregate([0.1, 0.2]) == "0.3"
    assert Decimal(aggregate([1e308, 1e308])) == 2 * 10 ** 308
    assert Decimal(aggregate([10 ** 30, 1])) == 10 ** 30 + 1
    assert aggregate([]) == "0"
    too_long = ExactSum()
    too_long.step("[1e999,1e999]")
    too_long.step("[1e-999,1e-999]")
    assert record_sums.total(too_long.finalize()) is None


numbers = st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                    st.integers(min_value=-(10 ** 308), max_value=10 ** 308))


@given(st.lists(numbers, max_size=20))
def test_the_aggregate_adds_json_numbers_exactly(values):
    exact = sum((Fraction(Decimal(json.dumps(value))) for value in values), Fraction(0))
    assert Fraction(Decimal(aggregate(values))) == exact


@given(st.lists(numbers, max_size=20))
def test_every_total_is_json_and_reads_back_to_its_exact_value(values):
    exact = Decimal(aggregate(values))
    answered = as_json(record_sums.total(aggregate(values)))
    text = json.dumps(answered, allow_nan=False)  # never NaN or Infinity
    if isinstance(answered, str):
        assert abs(exact) > Decimal(LARGEST) and Decimal(answered) == exact
        assert "e" not in answered.lower() and answered == plain(exact)
    elif isinstance(answered, int):
        assert answered == exact
    else:
        assert answered == float(exact) and json.loads(text) == answered
    assert digits(exact) <= record_sums.MAX_DIGITS
