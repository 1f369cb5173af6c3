"""A parsed ``where`` and ``sort`` (records/where.py) as SQL over ``Record.data``: JSON text
read with ``json_type``/``json_extract`` on SQLite, JSONB with ``->``/``->>`` on PostgreSQL.

Both databases answer the same records in the same order, because every rule below is
written out rather than left to each database's defaults:

- A field's JSON type decides how it compares. A number compares numerically, as a
  double, and only with a value written as a JSON number. A string compares as text with
  the value's text (``"10"`` equals ``10`` written in a where, ``10.0`` does not); a
  boolean as the text ``true``/``false``. Null, a missing field, an object or an array
  matches no comparison. Text compares by code point (``COLLATE "C"`` on PostgreSQL;
  SQLite compares bytes of UTF-8, the same order).
- ``neq``, ``nlike`` and ``notblank`` are exactly ``~not`` of ``eq``, ``like`` and
  ``blank``: a missing field is not equal to anything (as in NocoDB). Each term is
  coalesced to false, so SQL's unknown never reaches ``~not``.
- ``like``: ``%`` is the only wildcard, ASCII letters match either case, other letters
  only themselves (SQLite's LIKE; on PostgreSQL ``lower()`` under ``COLLATE "C"``).
- Order per key: numbers (numerically), strings (by code point), booleans (false first),
  objects and arrays (equal), then null or missing last; descending reverses all but the
  last; then the record's id, model and integration, ascending, by code point.

Values reach SQL only as bound parameters; field names only validated (``where.is_field``)
and then as bound parameters (the SQLite JSON path, the PostgreSQL key).

See docs/decisions.md, "Filtering and sorting records".
"""

from __future__ import annotations

import operator
import string
from collections.abc import Callable, Sequence
from decimal import Context, Decimal

from sqlalchemy import (
    Float,
    Numeric,
    String,
    and_,
    case,
    cast,
    collate,
    false,
    func,
    literal,
    not_,
    or_,
    true,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement

from integration_hub.db.models import Record
from integration_hub.records import where as w

_COMPARE: dict[str, Callable] = {"eq": operator.eq, "gt": operator.gt, "ge": operator.ge,
                                 "lt": operator.lt, "le": operator.le}
_NEGATED = {"neq": "eq", "nlike": "like", "notblank": "blank"}
Held = Callable[[ColumnElement], ColumnElement]  # a term on a field's number or text
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_LIKE_ESCAPE = "\\"
# PostgreSQL refuses to make a double of a number beyond one; SQLite reads it as infinity or
# zero, and so does this (the hub never stores such numbers; another tool might).
_OVERFLOW = Decimal(2 ** 1024 - 2 ** 970)  # from here up, the nearest double is infinity
_NEGATIVE_OVERFLOW = _OVERFLOW.copy_negate()  # exactly: unary minus would round to 28 digits
_INFINITY = float("inf")
_UNDERFLOW = Context(prec=800).power(Decimal(2), -1075)  # up to here, zero (exactly: 752 digits)
# jsonb writes a number without an exponent: up to this many characters, it is at most
# 10**300 and, unless zero, at least 10**-298, well inside a double's range.
_SHORT_NUMBER = 300
# Rank of each kind of value when sorting (null and missing are always last: 4).
_RANKS = ("number", "string", "boolean", "container")


def condition(node: w.Node, dialect: str) -> ColumnElement[bool]:
    """``node`` as a condition on ``Record`` for the dialect (``sqlite`` or ``postgresql``);
    never SQL's unknown, so ``~not`` is the exact complement."""
    if isinstance(node, w.Term):
        return _term(node, _field(node.field, dialect))
    if isinstance(node, w.Not):
        return not_(condition(node.item, dialect))
    joined = [condition(item, dialect) for item in node.items]
    return and_(*joined) if isinstance(node, w.And) else or_(*joined)


def ordering(keys: Sequence[w.SortKey], dialect: str) -> list[ColumnElement]:
    """ORDER BY columns for ``keys``, then the record's id, model and integration: a total
    order, the same on both databases."""
    columns: list[ColumnElement] = []
    for key in keys:
        field = _field(key.field, dialect)
        ranks = _RANKS[::-1] if key.descending else _RANKS
        columns.append(field.rank(ranks))
        for column in (field.sort_number, field.sort_text):
            columns.append(column.desc() if key.descending else column.asc())
    return columns + [_text(Record.record_id, dialect), _text(Record.model, dialect),
                      _text(Record.integration_id, dialect)]


def like_pattern(value: str) -> str:
    """A ``like`` value as a LIKE pattern: ``%`` stays the wildcard, ``_`` and the escape
    character are literal; ASCII letters lower case (the field's text is lowered too)."""
    escaped = value.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("_", _LIKE_ESCAPE + "_")
    return escaped.translate(_ASCII_LOWER)


def _term(term: w.Term, field: _SqliteField | _PostgresField) -> ColumnElement[bool]:
    op = _NEGATED.get(term.op, term.op)
    holds = func.coalesce(_holds(op, term.values, field), false())
    return not_(holds) if term.op in _NEGATED else holds


def _holds(op: str, values: tuple[str, ...], field: _SqliteField | _PostgresField):
    """The positive form of a term; may be NULL where a field has no value of that kind.

    One CASE on the field's kind, so that each record's JSON is read for its kind and then
    for its value once (SQLite reads the whole text again at each call)."""
    if op == "blank":
        return field.blank
    if op == "like":
        pattern = literal(like_pattern(values[0]), String)
        return field.typed(None, lambda text: field.fold(text).like(pattern,
                                                                   escape=_LIKE_ESCAPE))
    if op == "in":
        numbers = [literal(n, Float) for n in map(w.number, values) if n is not None]
        texts = [literal(value, String) for value in values]
        return field.typed((lambda number: number.in_(numbers)) if numbers else None,
                           lambda text: text.in_(texts))
    if op == "btw":
        low, high = values
        low_n, high_n = w.number(low), w.number(high)
        on_number = None if low_n is None or high_n is None else (
            lambda number: and_(number >= literal(low_n, Float),
                                number <= literal(high_n, Float)))
        return field.typed(on_number, lambda text: and_(text >= literal(low, String),
                                                        text <= literal(high, String)))
    compare, value = _COMPARE[op], values[0]
    as_number = w.number(value)
    return field.typed(
        None if as_number is None else (lambda number: compare(number,
                                                               literal(as_number, Float))),
        lambda text: compare(text, literal(value, String)))


def _field(name: str, dialect: str) -> _SqliteField | _PostgresField:
    if not w.is_field(name):
        raise ValueError(f"not a field name: {w.shown(name)}")
    if dialect == "sqlite":
        return _SqliteField(name)
    if dialect == "postgresql":
        return _PostgresField(name)
    raise ValueError(f"no filters for the dialect {dialect!r}")


def _text(column, dialect: str) -> ColumnElement:
    return collate(column, "C") if dialect == "postgresql" else column


class _SqliteField:
    """One field of ``data`` on SQLite. ``json_type`` tells the kind (``integer``, ``real``,
    ``text``, ``true``, ``false``, ``null``, ``object``, ``array``, NULL when missing);
    ``json_extract`` gives the value (booleans as 1 and 0, hence the kind first).

    SQLite parses the JSON text again at every call, so each expression below asks for the
    kind once (``CASE kind WHEN ...``) and for the value at most once."""

    def __init__(self, name: str) -> None:
        path = f'$."{name}"'  # a field name is letters, digits, "_" and "-": nothing to escape
        self.kind = func.json_type(Record.data, literal(path, String))
        self.value = func.json_extract(Record.data, literal(path, String))
        # As a double, as PostgreSQL reads it (an integer beyond 2**53 is rounded the same).
        number = cast(self.value, Float)
        self.blank = case({"null": true(), "text": self.value == ""},
                          value=func.coalesce(self.kind, "null"), else_=false())
        self.sort_number = case({"integer": number, "real": number, "true": 1.0,
                                 "false": 0.0}, value=self.kind)
        self.sort_text = type_coerce(case({"text": self.value}, value=self.kind), String)

    def typed(self, on_number: Held | None, on_text: Held) -> ColumnElement:
        """``on_number`` of the field as a double if it holds a number, ``on_text`` of its
        text if it holds a string or a boolean (``true``/``false``); else NULL."""
        whens: dict[str, ColumnElement] = {}
        if on_number is not None:
            whens["integer"] = whens["real"] = on_number(cast(self.value, Float))
        whens["text"] = on_text(type_coerce(self.value, String))
        whens["true"] = on_text(literal("true", String))
        whens["false"] = on_text(literal("false", String))
        return case(whens, value=self.kind)

    def fold(self, text: ColumnElement) -> ColumnElement:
        return text  # SQLite's LIKE ignores the case of ASCII letters only

    def rank(self, ranks: tuple[str, ...]) -> ColumnElement:
        number, text = ranks.index("number"), ranks.index("string")
        boolean, container = ranks.index("boolean"), ranks.index("container")
        return case({"integer": number, "real": number, "text": text, "true": boolean,
                     "false": boolean, "object": container, "array": container},
                    value=self.kind, else_=4)


class _PostgresField:
    """One field of ``data`` on PostgreSQL: ``data -> name`` (jsonb, NULL when missing), its
    ``jsonb_typeof`` and ``data ->> name`` (the text of a string, boolean or number)."""

    def __init__(self, name: str) -> None:
        element = Record.data.op("->")(literal(name, String))
        self.kind = func.jsonb_typeof(element)
        raw = Record.data.op("->>", return_type=String)(literal(name, String))
        self.text = collate(raw, "C")
        # A number's text as jsonb writes it has no exponent, so up to 300 characters it is
        # a double's own range: read directly (as numeric -> double does, nearest). Longer,
        # through numeric, which PostgreSQL refuses to make a double beyond the range.
        exact = cast(raw, Numeric)
        self.double = case(
            (func.length(raw) <= _SHORT_NUMBER, cast(raw, Float)),
            (exact >= literal(_OVERFLOW, Numeric), literal(_INFINITY, Float)),
            (exact <= literal(_NEGATIVE_OVERFLOW, Numeric), literal(-_INFINITY, Float)),
            (func.abs(exact) <= literal(_UNDERFLOW, Numeric), literal(0.0, Float)),
            else_=cast(exact, Float))
        self.blank = case({"null": true(), "string": raw == ""},
                          value=func.coalesce(self.kind, "null"), else_=false())
        self.sort_number = case({"number": self.double,
                                 "boolean": case((raw == "true", 1.0), else_=0.0)},
                                value=self.kind)
        self.sort_text = collate(case({"string": raw}, value=self.kind), "C")

    def typed(self, on_number: Held | None, on_text: Held) -> ColumnElement:
        """As ``_SqliteField.typed``."""
        whens: dict[str, ColumnElement] = {}
        if on_number is not None:
            whens["number"] = on_number(self.double)
        whens["string"] = whens["boolean"] = on_text(self.text)
        return case(whens, value=self.kind)

    def fold(self, text: ColumnElement) -> ColumnElement:
        return func.lower(text)  # under COLLATE "C", lower() changes ASCII letters only

    def rank(self, ranks: tuple[str, ...]) -> ColumnElement:
        container = ranks.index("container")
        return case({"number": ranks.index("number"), "string": ranks.index("string"),
                     "boolean": ranks.index("boolean"), "object": container,
                     "array": container}, value=self.kind, else_=4)
