"""``store sum``: each field's exact total over a model's live records, in one SQL statement.

PostgreSQL adds the fields' JSON numbers as ``numeric``, exactly. SQLite has no exact type:
its ``sum()`` adds reals as doubles (``1e308 + 1e308`` is ``Infinity``, which is not JSON)
and stops with "integer overflow" past 2**63. So on SQLite the hub adds the numbers' JSON
text with an aggregate of its own, in ``Decimal``, registered on the connection. Both
databases give the same exact total, and ``as_json`` writes it the same way
(docs/api-conventions.md, "Numbers"):

- a total a double holds (magnitude at most about 1.8e308) is a JSON number: an integer
  with all its digits, a fraction as the nearest double;
- a larger total is its exact value as a string in plain decimal notation
  (``"200...0"``, ``"-179...0.5"``); JSON numbers beyond a double read as Infinity in most
  parsers, a string cannot be misread;
- a total of more than ``MAX_DIGITS`` digits is refused (422 ``sum_out_of_range``). The
  hub never stores such numbers (every number it accepts is one a double holds), so this
  only meets numbers another tool wrote into the database.
"""

from __future__ import annotations

import decimal
import sys
from decimal import Decimal

from sqlalchemy import Numeric, case, func, literal, select
from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.db.models import Record

MAX_DIGITS = 1000  # digits of a total, before and after the point (a double needs < 700)
LARGEST_DOUBLE = Decimal(sys.float_info.max)  # exactly
_AGGREGATE = "hub_exact_sum"
_TOO_LONG = "too long"
# Exact while a total has at most MAX_DIGITS digits; Inexact says it has more.
_EXACT = decimal.Context(prec=MAX_DIGITS, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN,
                         traps=[decimal.Inexact, decimal.InvalidOperation])
# For reading a total's digits: never rounds.
_UNBOUNDED = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


class SumOutOfRange(errors.ValidationFailed):
    code, title = "sum_out_of_range", "A total has too many digits to answer"


def sums(session: Session, scope: list, names: list[str]) -> tuple[dict, int]:
    """Each field's total over the records ``scope`` selects (non-numbers are skipped),
    written by ``as_json``, and how many records there were: one SQL statement."""
    if session.get_bind().dialect.name == "postgresql":
        columns = [func.sum(_pg_number(name)) for name in names]
    else:
        session.connection().connection.driver_connection.create_aggregate(
            _AGGREGATE, 1, ExactSum)
        columns = [getattr(func, _AGGREGATE)(_sqlite_number(name)) for name in names]
    row = session.execute(select(func.count(), *columns).select_from(Record).where(*scope)).one()
    totals = [total(value) for value in row[1:]]
    return {name: as_json(value, name) for name, value in zip(names, totals, strict=True)}, row[0]


def _pg_number(name: str):
    """The field's value when it is a JSON number, else NULL (numeric: sums are exact)."""
    element = Record.data.op("->")(literal(name))
    return case((func.jsonb_typeof(element) == "number",
                 Record.data.op("->>")(literal(name)).cast(Numeric)), else_=None)


def _sqlite_number(name: str):
    """The field's JSON text when it is a number, else NULL. ``json_extract`` with one path
    gives a number as a double (1e30 + 1 becomes 1e30); with two it answers a JSON array
    that writes each value as stored: ``[1e+30,1e+30]``. (``->`` would too, but only from
    SQLite 3.38.)"""
    path = f'$."{name}"'  # field names are letters, digits, "_" and "-": nothing to escape
    number = func.json_type(Record.data, path).in_(("integer", "real"))
    return case((number, func.json_extract(Record.data, path, path)), else_=None)


class ExactSum:
    """SQLite aggregate: the exact sum of JSON numbers, each given as ``[n,n]``, as the text
    of a ``Decimal`` (``_TOO_LONG`` past MAX_DIGITS digits)."""

    def __init__(self) -> None:
        self.total: Decimal | None = Decimal(0)

    def step(self, pair: str | None) -> None:
        if pair is None or self.total is None:
            return
        try:
            self.total = _EXACT.add(self.total, Decimal(pair[1:pair.index(",")]))
        except (decimal.Inexact, decimal.InvalidOperation, ValueError):
            self.total = None  # ValueError: never from SQLite's own arrays

    def finalize(self) -> str:
        return _TOO_LONG if self.total is None else str(self.total)


def total(value: Decimal | str | None) -> Decimal | None:
    """What the database answered as a Decimal; None when it has too many digits."""
    if value is None:  # PostgreSQL's sum of no numbers
        return Decimal(0)
    if value == _TOO_LONG:
        return None
    return value if isinstance(value, Decimal) else Decimal(value)


def as_json(value: Decimal | None, name: str = "") -> int | float | str:
    """An exact total as the answer writes it (the module's text); ``SumOutOfRange`` past
    MAX_DIGITS digits."""
    if value is None or digits(value) > MAX_DIGITS:
        raise SumOutOfRange(f"the total of {name} has more than {MAX_DIGITS} digits",
                            errors={"fields": [f"{name}: more than {MAX_DIGITS} digits"]})
    integral = value == value.to_integral_value()
    if abs(value) <= LARGEST_DOUBLE:
        return int(value) if integral else float(value)
    return plain(value)


def digits(value: Decimal) -> int:
    """Digits ``value`` takes in plain notation without needless zeros, either side of the
    point (0 for zero)."""
    if value.is_zero():
        return 0
    _, figures, exponent = value.normalize(_UNBOUNDED).as_tuple()
    whole = max(len(figures) + exponent, 0)
    fraction = max(-exponent, 0)
    return whole + fraction


def plain(value: Decimal) -> str:
    """``value`` in plain decimal notation: no exponent, no trailing zeros after the point."""
    return format(value.normalize(_UNBOUNDED), "f")
