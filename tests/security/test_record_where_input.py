"""Hostile ``where`` and ``sort`` text (docs/security.md, "Record filters"): SQL quotes and
comments, JSON path tricks, deep nesting, a megabyte, NUL and lone surrogates. Each is
refused with 422 ``where_invalid``/``sort_invalid`` (a short message, quickly, no
recursion error), or read as a literal value that selects exactly the records holding it,
on both databases; no value ever becomes part of the SQL text."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from integration_hub import errors
from integration_hub.db.models import Record
from integration_hub.db.types import utcnow
from integration_hub.records import store as records
from integration_hub.records import where
from integration_hub.records.filters import condition, ordering

MB = "(name,eq," + "x" * 1_000_000 + ")"
REFUSED_WHERE = [
    "(name,eq,x)'; DROP TABLE records;--",
    "(name,eq,1) OR 1=1",
    "(name,eq,1)~or 1=1--",
    "(name,eq,1);--",
    "(name'--,eq,1)",
    "(name;DROP,eq,1)",
    '(a"."b,eq,1)',
    '(a"),eq,1)',
    "($,eq,1)",
    "($.a,eq,1)",
    "($[0],eq,1)",
    "(a[0],eq,1)",
    "(a.b,eq,1)",
    "(a->>b,eq,1)",
    "(*,eq,1)",
    "(name,\"eq\",1)",
    "(name,eq||'x',1)",
    "(name,eq,x'))--",
    "(name,eq,a(b)",
    "(name,in," + ",".join(["x"] * 101) + ")",
    "(" * 10_000 + "(name,eq,1)" + ")" * 10_000,
    "(" * 1_990 + "(a,eq,1)",
    "~not" * 490 + "(a,eq,1)",
    "~and".join(["(a,eq,1)"] * 60),
    MB,
    "(name,eq,\x00)",
    "(na\x00me,eq,1)",
    "(name,eq,1)\x00",
    "(name,eq,\ud800)",
    "(name,eq,\udfff\ud800)",
    "(\ud83d,eq,1)",
    "(name,eq,1\\",
]
REFUSED_SORT = ["name;DROP TABLE records", "name desc", 'name"', "$", "$.name", "name[0]",
                'name COLLATE "C"', "-", "name,", "name,\x00", "name\ud800", "x" * 1_000_000,
                ",".join(["a"] * 11), "'--"]


@pytest.mark.parametrize("text", REFUSED_WHERE, ids=lambda text: repr(text[:30]))
def test_hostile_where_is_refused_quickly_and_briefly(app, text):
    started = time.monotonic()
    with pytest.raises(where.WhereInvalid) as refused:
        where.parse_where(text)
    assert time.monotonic() - started < 1
    assert_brief_422(app, refused.value, "where", "where_invalid")


@pytest.mark.parametrize("text", REFUSED_SORT, ids=lambda text: repr(text[:30]))
def test_hostile_sort_is_refused(app, text):
    with pytest.raises(where.SortInvalid) as refused:
        where.parse_sort(text)
    assert_brief_422(app, refused.value, "sort", "sort_invalid")
    if text != "-":  # a field may be called "-"
        with pytest.raises(where.FieldsInvalid):
            where.parse_fields(text)


def assert_brief_422(app, refused: errors.HubError, parameter: str, code: str) -> None:
    """The problem answer the hub would give: 422, valid JSON, one short message."""
    with app.app_context():
        answer = errors.problem_response(refused)
    assert answer.status_code == 422
    body = json.loads(answer.get_data(as_text=True))
    assert body["code"] == code
    (message,) = body["errors"][parameter]
    assert len(message) < 250 and len(body["detail"]) < 260
    for sql in ("SELECT", "sqlite", "psycopg", "jsonb", "json_extract"):
        assert sql not in message


LITERALS = ["'--", "' OR '1'='1", '" OR ""="', "%' OR 1=1 --", "'); DROP TABLE records;--",
            "$.name", "$[0]", 'a"."b', "a->>'b'", "\\", "\\'", "'\\", "1; SELECT 1", "NULL",
            "null", "\ufeffx", "\x01\x7f\n", "🙂", "*/ /*", "?", ":name", "%(name)s", "$1"]


@pytest.fixture
def hostile(session, make_integration):
    """A record per literal, whose ``name`` and ``note`` hold it; answers the integration."""
    integration = make_integration("Hostile", type="custom", auth_type="none")
    items = {f"h{n}": {"name": value, "note": {"nested": value}} for n, value in
             enumerate(LITERALS)}
    items["plain"] = {"name": "plain", "-": "dash", "1": "one", "_": "under"}
    records.upsert(session, integration, "m", items, utcnow())
    session.commit()
    return integration


def select_ids(session, integration: str, where_text: str, sort_text: str = "") -> list[str]:
    dialect = session.get_bind().dialect.name
    query = select(Record.record_id).where(
        Record.integration_id == integration,
        condition(where.parse_where(where_text), dialect))
    return list(session.scalars(query.order_by(*ordering(where.parse_sort(sort_text), dialect))))


@pytest.mark.parametrize("n", range(len(LITERALS)), ids=lambda n: repr(LITERALS[n]))
def test_a_hostile_value_is_matched_literally(session, hostile, n):
    value = where.escape(LITERALS[n])
    assert select_ids(session, hostile, f"(name,eq,{value})") == [f"h{n}"]
    assert select_ids(session, hostile, f"(name,in,nothing,{value})", "-name") == [f"h{n}"]
    assert f"h{n}" not in select_ids(session, hostile, f"(name,neq,{value})")
    assert select_ids(session, hostile, f"(note,eq,{value})") == []  # an object, not its text
    assert f"h{n}" in select_ids(session, hostile, f"(name,btw,{value},{value})")


def test_odd_but_valid_field_names_are_json_keys(session, hostile):
    assert select_ids(session, hostile, "(-,eq,dash)~and(1,eq,one)~and(_,eq,under)") == ["plain"]
    assert select_ids(session, hostile, "(-,notblank)", "--,-1,_") == ["plain"]


@pytest.mark.parametrize("value", [v for v in LITERALS if len(v) > 2 and v.isprintable()])
def test_values_and_names_stay_out_of_the_sql_text(value):
    node = where.parse_where(f"(name,eq,{where.escape(value)})~or(name,like,{where.escape(value)})")
    for name, dialect in (("sqlite", sqlite.dialect()), ("postgresql", postgresql.dialect())):
        statement = select(Record.record_id).where(condition(node, name)).order_by(
            *ordering(where.parse_sort("-name"), name)).compile(dialect=dialect)
        assert value not in str(statement)
        assert '"name"' not in str(statement) and "'name'" not in str(statement)
        assert value in statement.params.values()


def test_a_tree_built_by_hand_cannot_name_an_unvalidated_field():
    for name in ('a"."b', "a'--", "$", ""):
        with pytest.raises(ValueError):
            condition(where.Term(name, "eq", ("1",)), "sqlite")
        with pytest.raises(ValueError):
            ordering([where.SortKey(name)], "postgresql")
