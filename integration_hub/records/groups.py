"""``record-groups``: how many live records of a model hold each value of one data field,
counted in SQL with GROUP BY (docs/decisions.md, "Record groups").

Groups are by JSON value, alike on both databases: numbers by numeric value (``1`` and
``1.0`` are one group), strings by their exact text, ``true`` and ``false``, and one
``null`` group for null and missing. Objects and arrays have no value to group by here:
the records holding one are counted in ``ungrouped``. At most ``MAX_GROUPS`` groups, the
largest first; with more, ``truncated``. The answer orders the groups by count
(descending), then by value in the order ``sort`` uses (records/filters.py): numbers,
strings by code point, false, true, then null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, case, func, literal, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from integration_hub import errors
from integration_hub.db.models import Record
from integration_hub.records import filters as record_filters
from integration_hub.records import store as records_store
from integration_hub.records import where as record_where

MAX_GROUPS = 1000
_CONTAINERS = ("object", "array")


@dataclass(frozen=True)
class Group:
    value: Any  # str, int, float, bool or None
    count: int


@dataclass(frozen=True)
class Groups:
    groups: list[Group]
    ungrouped: int  # records whose field holds an object or an array
    truncated: bool


def count_groups(session: Session, integration_id: str, model: str, column: str,
                 where: str | None) -> Groups:
    """The groups of ``column`` among the model's live records ``where`` filters: one
    GROUP BY in SQL."""
    if not record_where.is_field(column):
        raise errors.ValidationFailed(
            "column is a data field name: 1-64 letters, digits, '_' or '-'",
            errors={"column": [f"not a field name: {record_where.shown(column)}"]})
    dialect = session.get_bind().dialect.name
    scope = records_store.live_scope(integration_id, model)
    condition = record_where.parse_where(where)
    if condition is not None:
        scope = [*scope, record_filters.condition(condition, dialect)]
    kind, value = _kind_and_value(column, dialect)
    # Grouped over a subquery: PostgreSQL would not see one expression in the select list
    # and GROUP BY, each holding the field's name as a parameter of its own.
    fields = select(kind.label("kind"), value.label("value")).where(*scope).subquery()
    count = func.count()
    rows = session.execute(
        select(fields.c.kind, fields.c.value, count).group_by(fields.c.kind, fields.c.value)
        # objects and arrays first (one row each), so that ``ungrouped`` is whole
        .order_by(fields.c.kind.in_(_CONTAINERS).desc(), count.desc())
        .limit(MAX_GROUPS + 3)).all()
    merged: dict[tuple[str, Any], int] = {}
    ungrouped = 0
    for row_kind, row_value, row_count in rows:
        if row_kind in _CONTAINERS:
            ungrouped += row_count
            continue
        key = _key(row_kind, row_value)
        merged[key] = merged.get(key, 0) + row_count
    groups = sorted((Group(key[1], total) for key, total in merged.items()), key=_order)
    return Groups(groups[:MAX_GROUPS], ungrouped, len(groups) > MAX_GROUPS)


def _kind_and_value(column: str, dialect: str):
    """(kind, value) to group by. Kinds: number, string, boolean, null (missing too),
    object, array; the value of a container is left out (NULL): it is not grouped."""
    if dialect == "postgresql":
        element = Record.data.op("->")(literal(column, String))
        kind = func.coalesce(func.jsonb_typeof(element), "null")
        value = case((kind.in_(_CONTAINERS), None), (kind == "null", None), else_=element)
        return kind, value
    path = literal(f'$."{column}"', String)  # a field name: nothing to escape
    # One simple CASE each: SQLite parses the JSON text again at every json_* call.
    raw_kind = func.json_type(Record.data, path)
    kind = case({"integer": "number", "real": "number", "text": "string", "true": "boolean",
                 "false": "boolean", "object": "object", "array": "array"},
                value=raw_kind, else_="null")
    # json_extract answers true and false as 1 and 0 (``_key`` reads them by their kind).
    # NullType: a CASE typed by one of its branches would convert every value to that type.
    value = type_coerce(case({"object": None, "array": None}, value=raw_kind,
                             else_=func.json_extract(Record.data, path)), NullType())
    return kind, value


def _key(kind: str, value: Any) -> tuple[str, Any]:
    """One key per group whichever database answered (SQLite answers booleans as 1 and 0,
    PostgreSQL decodes JSON; a number is a number: 1.0 is 1)."""
    if kind == "boolean":
        return kind, bool(value)
    if kind == "null":
        return kind, None
    if kind == "number" and isinstance(value, float) and value.is_integer() \
            and abs(value) < 2 ** 53:
        return kind, int(value)
    return kind, value


def _order(group: Group) -> tuple:
    value = group.value
    if isinstance(value, bool):
        rank, number, text = 2, float(value), ""
    elif isinstance(value, (int, float)):
        rank, number, text = 0, float(value), ""
    elif isinstance(value, str):
        rank, number, text = 1, 0.0, value
    else:
        rank, number, text = 3, 0.0, ""
    return -group.count, rank, number, text


def filter_for(column: str, value: Any,
               where: str | record_where.Node | None = None) -> str | None:
    """The ``where`` that lists a group's records: ``(column,eq,value)``, ``blank`` for the
    null group (which also lists empty strings: ``blank`` takes both), and the request's own
    ``where`` too (its text, or the tree a page of groups parsed once). Written from the
    parsed tree (``where.unparse``), never by joining the
    caller's text: grouping and escapes stay right whatever it holds.

    None when the records page would refuse that filter (records/where.py's limits), as
    the parser itself finds: a long value, a request ``where`` of ``MAX_TERMS`` terms (the
    group's is one more), or one nested ``MAX_DEPTH`` deep under a ``~or`` (which is put
    in parentheses). The group is still listed and counted, but its link cannot narrow to
    it: it lists the records every group was counted in (api/records/documents.py)."""
    if value is None:
        term = record_where.Term(column, "blank")
    else:
        text = ("true" if value else "false") if isinstance(value, bool) \
            else repr(value) if isinstance(value, float) else str(value)
        term = record_where.Term(column, "eq", (text,))
    chosen = record_where.parse_where(where) if isinstance(where, str) else where
    if chosen is None:
        built = record_where.unparse(term)
    else:
        items = chosen.items if isinstance(chosen, record_where.And) else (chosen,)
        built = record_where.unparse(record_where.And((*items, term)))  # no deeper than needed
    try:
        record_where.parse_where(built)
    except record_where.WhereInvalid:
        return None
    return built

