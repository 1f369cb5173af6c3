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
  only themselves (SQLite's LIKE; on PostgreSQL ``translate`` A-Z to a-z).
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
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement

from integration_hub.db.models import Record
from integration_hub.records import where as w

_COMPARE: dict[str, Callable] = {"eq": operator.eq, "gt": operator.gt, "ge": operator.ge,
                                 "lt": operator.lt, "le": operator.le}
_NEGATED = {"neq": "eq", "nlike": "like", "notblank": "blank"}
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_LIKE_ESCAPE = "\\"
# PostgreSQL refuses to make a double of a number beyond one; SQLite reads it as infinity or
# zero, and so does this (the hub never stores such numbers; another tool might).
_OVERFLOW = Decimal(2 ** 1024 - 2 ** 970)  # from here up, the nearest double is infinity
_NEGATIVE_OVERFLOW = _OVERFLOW.copy_negate()  # exactly: unary minus would round to 28 digits
_INFINITY = float("inf")
_UNDERFLOW = Context(prec=800).power(Decimal(2), -1075)  # up to here, zero (exactly: 752 digits)
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
    """The positive form of a term; may be NULL where a field has no value of that kind."""
    if op == "blank":
        return field.blank
    if op == "like":
        return field.folded_text.like(literal(like_pattern(values[0]), String),
                                      escape=_LIKE_ESCAPE)
    if op == "in":
        numbers = [n for n in map(w.number, values) if n is not None]
        texts = field.text.in_([literal(value, String) for value in values])
        return or_(field.number.in_([literal(n, Float) for n in numbers]), texts) \
            if numbers else texts
    if op == "btw":
        low, high = values
        texts = and_(field.text >= literal(low, String), field.text <= literal(high, String))
        low_n, high_n = w.number(low), w.number(high)
        if low_n is None or high_n is None:
            return texts
        return or_(and_(field.number >= literal(low_n, Float),
                        field.number <= literal(high_n, Float)), texts)
    compare, value = _COMPARE[op], values[0]
    texts = compare(field.text, literal(value, String))
    as_number = w.number(value)
    return texts if as_number is None else or_(compare(field.number, literal(as_number, Float)),
                                               texts)


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
    ``json_extract`` gives the value (booleans as 1 and 0, hence the kind first)."""

    def __init__(self, name: str) -> None:
        path = f'$."{name}"'  # a field name is letters, digits, "_" and "-": nothing to escape
        self.kind = func.json_type(Record.data, literal(path, String))
        self.value = func.json_extract(Record.data, literal(path, String))
        is_number = self.kind.in_(("integer", "real"))
        # As a double, as PostgreSQL reads it (an integer beyond 2**53 is rounded the same).
        self.number = case((is_number, cast(self.value, Float)), else_=None)
        self.text = case((self.kind == "text", self.value), (self.kind == "true", "true"),
                         (self.kind == "false", "false"), else_=None)
        self.text = type_coerce(self.text, String)
        self.folded_text = self.text  # SQLite's LIKE ignores the case of ASCII letters only
        self.blank = or_(self.kind.is_(None), self.kind == "null",
                         and_(self.kind == "text", self.value == ""))
        self.sort_number = case((is_number, cast(self.value, Float)),
                                (self.kind == "true", 1.0), (self.kind == "false", 0.0),
                                else_=None)
        self.sort_text = type_coerce(case((self.kind == "text", self.value), else_=None), String)

    def rank(self, ranks: tuple[str, ...]) -> ColumnElement:
        return case((self.kind.in_(("integer", "real")), ranks.index("number")),
                    (self.kind == "text", ranks.index("string")),
                    (self.kind.in_(("true", "false")), ranks.index("boolean")),
                    (self.kind.in_(("object", "array")), ranks.index("container")), else_=4)


class _PostgresField:
    """One field of ``data`` on PostgreSQL: ``data -> name`` (jsonb, NULL when missing), its
    ``jsonb_typeof`` and ``data ->> name`` (the text of a string or boolean)."""

    def __init__(self, name: str) -> None:
        element = Record.data.op("->")(literal(name, String))
        self.kind = func.jsonb_typeof(element)
        raw = Record.data.op("->>", return_type=String)(literal(name, String))
        exact = cast(raw, Numeric)
        # numeric -> double: PostgreSQL rounds to nearest, as SQLite and Python do.
        double = case((exact >= literal(_OVERFLOW, Numeric), literal(_INFINITY, Float)),
                      (exact <= literal(_NEGATIVE_OVERFLOW, Numeric), literal(-_INFINITY, Float)),
                      (func.abs(exact) <= literal(_UNDERFLOW, Numeric), literal(0.0, Float)),
                      else_=cast(exact, Float))
        self.number = case((self.kind == "number", double), else_=None)
        self.text = collate(case((self.kind.in_(("string", "boolean")), raw), else_=None), "C")
        self.folded_text = func.translate(self.text, string.ascii_uppercase,
                                          string.ascii_lowercase)
        self.blank = or_(element.is_(None), self.kind == "null",
                         and_(self.kind == "string", raw == ""))
        self.sort_number = case((self.kind == "number", double),
                                (self.kind == "boolean", case((raw == "true", 1.0), else_=0.0)),
                                else_=None)
        self.sort_text = collate(case((self.kind == "string", raw), else_=None), "C")

    def rank(self, ranks: tuple[str, ...]) -> ColumnElement:
        return case((self.kind == "number", ranks.index("number")),
                    (self.kind == "string", ranks.index("string")),
                    (self.kind == "boolean", ranks.index("boolean")),
                    (self.kind.in_(("object", "array")), ranks.index("container")), else_=4)
