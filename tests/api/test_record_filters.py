"""``where`` and ``sort`` over stored records (records/filters.py), on both databases: the
records a filter selects, and their order, are exactly what a reference in Python with the
same rules answers (docs/decisions.md, "Filtering and sorting records").

The model holds what makes the databases differ when left to their defaults: numbers and
numeric strings (10, 10.0, "10"), negatives and negative zero, integers past 2**53 and
2**63, strings with ``%``, ``_`` and ``\\``, letters outside ASCII in every case, booleans,
null, missing fields, objects and arrays.
"""

from __future__ import annotations

import functools
import json
import re
import string
import uuid

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select, text

from integration_hub.db import migrations
from integration_hub.db.models import Record
from integration_hub.db.types import utcnow
from integration_hub.records import store as records
from integration_hub.records import where
from integration_hub.records.filters import condition, ordering
from integration_hub.records.where import And, Not, Or, SortKey, Term
from tests.conftest import POSTGRES_ADMIN_URL, missing_component
from tests.support.workers import worker_name

MODEL = "things"
DATA = {
    "int10": {"amount": 10, "name": "apple", "flag": True, "note": "50% off"},
    "str10": {"amount": "10", "name": "Apple", "flag": "true", "note": "a_b"},
    "float10": {"amount": 10.0, "name": "APPLE", "flag": False, "note": "axb"},
    "nine5": {"amount": 9.5, "name": "Éclair", "flag": "false", "note": "a\\b"},
    "neg": {"amount": -2.5, "name": "éclair", "flag": None, "note": "x,y"},
    "str9": {"amount": "9", "name": "ÉCLAIR", "note": "(p)"},
    "thousand": {"amount": 1e3, "name": "eclair", "flag": 1, "note": "~t"},
    "str1e3": {"amount": "1e3", "name": "Eclair", "flag": 0, "note": ""},
    "zero": {"amount": 0, "name": "straße", "flag": "", "note": None},
    "negzero": {"amount": -0.0, "name": "STRASSE", "flag": [], "note": " spaced "},
    "tenth": {"amount": 0.1, "name": "😀", "flag": {}, "note": "line\nbreak"},
    "tiny": {"amount": 1e-7, "name": "ｚ", "flag": True, "note": "'--"},
    "big": {"amount": 1e20, "name": "z", "flag": True, "note": "%"},
    "int53": {"amount": 2 ** 53 + 1, "name": "Z", "note": "_"},
    "int64": {"amount": 2 ** 64, "name": "", "note": "10"},
    "minint": {"amount": -(2 ** 63), "name": " apple", "note": "true"},
    "btrue": {"amount": True, "name": "true", "note": "é"},
    "bfalse": {"amount": False, "name": "false", "note": "É"},
    "null": {"amount": None, "name": None, "note": "abc"},
    "missing": {"name": "10", "note": "ABC"},
    "empty": {"amount": "", "name": "'--", "note": "abc%"},
    "text": {"amount": "abc", "name": "a%b", "note": "z"},
    "object": {"amount": {"x": 1}, "name": {"name": "apple"}, "note": [1]},
    "array": {"amount": [1, 2], "name": ["apple"], "note": {"a": "b"}},
    "str-2.5": {"amount": "-2.5", "name": "10.0", "note": "Z"},
    "str10.0": {"amount": "10.0", "name": "9", "note": "a"},
    "bare": {},
}
# Long texts, that share their first 200 characters: stored for the generated filters and
# the test of long texts (``with_long``).
LONG = {
    "long": {"name": "a" * 199 + "b" + "c" * 50, "note": "a" * 200, "amount": "a" * 201},
    "long2": {"name": "a" * 199 + "b", "note": "a" * 200 + "%", "amount": "a" * 199 + "b"},
}


def _stored(session, make_integration, data: dict):
    """``data`` stored in one model; answers the ids a where and sort select, in order."""
    integration = make_integration("Filters", type="custom", auth_type="none")
    records.upsert(session, integration, MODEL, data, utcnow())
    session.commit()
    dialect = session.get_bind().dialect.name

    def select_ids(where_text: str = "", sort_text: str = "") -> list[str]:
        node, keys = where.parse_where(where_text), where.parse_sort(sort_text)
        query = select(Record.record_id).where(Record.integration_id == integration,
                                               Record.model == MODEL)
        if node is not None:
            query = query.where(condition(node, dialect))
        return list(session.scalars(query.order_by(*ordering(keys, dialect))))

    select_ids.integration = integration
    select_ids.data = data
    return select_ids


@pytest.fixture
def stored(session, make_integration):
    return _stored(session, make_integration, DATA)


@pytest.fixture
def with_long(session, make_integration):
    return _stored(session, make_integration, {**DATA, **LONG})


# -- the reference: the same rules in Python ----------------------------------------------------

ABSENT = object()
ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
COMPARE = {"eq": lambda a, b: a == b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
           "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}
NEGATED = {"neq": "eq", "nlike": "like", "notblank": "blank"}


def as_number(value) -> float | None:
    return float(value) if type(value) in (int, float) else None


def as_text(value) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else None


def holds(node, data: dict) -> bool:
    if isinstance(node, Not):
        return not holds(node.item, data)
    if isinstance(node, And | Or):
        found = (holds(item, data) for item in node.items)
        return all(found) if isinstance(node, And) else any(found)
    if node.op in NEGATED:
        return not holds(Term(node.field, NEGATED[node.op], node.values), data)
    value = data.get(node.field, ABSENT)
    number, text_ = as_number(value), as_text(value)
    if node.op == "blank":
        return value is ABSENT or value is None or value == ""
    if node.op == "like":
        pattern = ".*".join(map(re.escape, node.values[0].translate(ASCII_LOWER).split("%")))
        return text_ is not None and re.fullmatch(pattern, text_.translate(ASCII_LOWER),
                                                  re.DOTALL) is not None
    if node.op == "in":
        return any(compares("eq", number, text_, v) for v in node.values)
    if node.op == "btw":
        low, high = node.values
        return compares("ge", number, text_, low, high) and compares("le", number, text_, high,
                                                                        low)
    return compares(node.op, number, text_, node.values[0])


def compares(op: str, number, text_, value: str, other: str | None = None) -> bool:
    """``other``: btw's other bound, which must be a number too for numbers to compare."""
    wanted = where.number(value)
    numeric = wanted is not None and (other is None or where.number(other) is not None)
    return ((number is not None and numeric and COMPARE[op](number, wanted))
            or (text_ is not None and COMPARE[op](text_, value)))


def sort_value(value, descending: bool) -> tuple:
    """(rank, value): numbers, strings, booleans, objects and arrays; null or absent last."""
    kinds = ["number", "string", "boolean", "container"]
    if descending:
        kinds.reverse()
    if value is ABSENT or value is None:
        return (4, 0)
    if isinstance(value, bool):
        return (kinds.index("boolean"), int(value))
    if isinstance(value, int | float):
        return (kinds.index("number"), float(value))
    if isinstance(value, str):
        return (kinds.index("string"), value)
    return (kinds.index("container"), 0)


def reference(node, keys: tuple[SortKey, ...], data: dict = DATA) -> list[str]:
    def cmp(a: str, b: str) -> int:
        for key in keys:
            (rank_a, va), (rank_b, vb) = (sort_value(data[r].get(key.field, ABSENT),
                                                     key.descending) for r in (a, b))
            if rank_a != rank_b:
                return -1 if rank_a < rank_b else 1
            if va != vb:
                return (-1 if va < vb else 1) * (-1 if key.descending else 1)
        return -1 if a < b else 1 if a > b else 0

    # As stored: the database reads back the JSON text it was given.
    chosen = [r for r, item in data.items() if node is None or holds(node, json.loads(
        json.dumps(item)))]
    return sorted(chosen, key=functools.cmp_to_key(cmp))


# -- chosen answers -----------------------------------------------------------------------------

EXPECTED = [
    ("(amount,eq,10)", {"int10", "float10", "str10"}),  # numerically, or the string "10"
    ("(amount,eq,10.0)", {"int10", "float10", "str10.0"}),
    ("(amount,eq,1e3)", {"thousand", "str1e3"}),
    ("(amount,eq,-0)", {"zero", "negzero"}),
    ("(amount,eq,9007199254740992)", {"int53"}),  # 2**53 + 1 as a double, alike
    ("(amount,btw,1e19,1e21)", {"int64", "big"}),  # past int64 too
    ("(amount,lt,-1e18)", {"minint", "empty"}),  # "" is text before any other
    ("(amount,btw,-3,0)", {"neg", "zero", "negzero"}),
    ("(amount,in,10,abc)", {"int10", "float10", "str10", "text"}),
    ("(amount,eq,abc)", {"text"}),
    ("(amount,gt,9)", {"int10", "float10", "nine5", "thousand", "big", "int53", "int64",
                       "text", "btrue", "bfalse"}),  # strings and booleans as text
    ("(flag,eq,true)", {"int10", "str10", "tiny", "big"}),  # true and "true", not 1
    ("(flag,eq,1)", {"thousand"}),
    ("(flag,neq,true)", set(DATA) - {"int10", "str10", "tiny", "big"}),  # missing included
    ("(amount,blank)", {"null", "missing", "empty", "bare"}),
    ("(amount,notblank)", set(DATA) - {"null", "missing", "empty", "bare"}),
    ("(flag,blank)", {"neg", "str9", "zero", "int53", "int64", "minint", "btrue", "bfalse",
                      "null", "missing", "empty", "text", "object", "array", "str-2.5",
                      "str10.0", "bare"}),  # [] and {} are not blank
    ("(name,like,eclair)", {"thousand", "str1e3"}),  # ASCII letters in either case
    ("(name,like,éclair)", {"neg"}),  # other letters only as written
    ("(name,like,ÉCLAIR)", {"nine5", "str9"}),
    ("(name,like,%CLAIR)", {"nine5", "neg", "str9", "thousand", "str1e3"}),
    ("(name,like,strasse)", {"negzero"}),  # no folding of ß
    ("(note,like,a_b)", {"str10"}),  # _ is no wildcard
    ("(note,like,a\\\\b)", {"nine5"}),
    ("(note,like,abc%)", {"null", "missing", "empty"}),
    ("(note,like,%\\,%)", {"neg"}),
    ("(note,like,line%)", {"tenth"}),
    ("(note,eq,\\(p\\))", {"str9"}),
    ("(note,eq,'--)", {"tiny"}),
    ("(name,gt,z)", {"nine5", "str9", "neg", "tiny", "tenth"}),  # by code point: É é ｚ 😀
    ("(name,lt,A)", {"int64", "minint", "empty", "str-2.5", "str10.0", "missing"}),
    ("(name,eq,apple)", {"int10"}),  # the object {"name": "apple"} is not the text
    ("(name,neq,apple)", set(DATA) - {"int10"}),
    ("(amount,gt,5)~or~not(amount,gt,5)", set(DATA)),
    ("(flag,eq,true)~or(amount,eq,10)~and(name,eq,Apple)", {"int10", "str10", "tiny", "big"}),
    ("((flag,eq,true)~or(amount,eq,10))~and(name,eq,APPLE)", {"float10"}),
]


@pytest.mark.parametrize(("where_text", "ids"), EXPECTED)
def test_chosen_answers(stored, where_text, ids):
    assert set(stored(where_text)) == ids
    assert set(reference(where.parse_where(where_text), ())) == ids


ASCENDING = ["minint", "neg", "negzero", "zero", "tiny", "tenth", "nine5", "float10", "int10",
             "thousand", "int53", "int64", "big",
             "empty", "str-2.5", "str10", "str10.0", "str1e3", "str9", "text",
             "bfalse", "btrue", "array", "object", "bare", "missing", "null"]
DESCENDING = ["array", "object", "btrue", "bfalse",
              "text", "str9", "str1e3", "str10.0", "str10", "str-2.5", "empty",
              "big", "int64", "int53", "thousand", "float10", "int10", "nine5", "tenth", "tiny",
              "negzero", "zero", "neg", "minint", "bare", "missing", "null"]


def test_chosen_orders(stored):
    assert stored(sort_text="amount") == ASCENDING
    assert stored(sort_text="-amount") == DESCENDING
    assert stored() == sorted(DATA)  # by id
    assert stored("(name,notblank)~and(amount,notblank)", "name") == [
        "minint", "str-2.5", "str10.0", "float10", "str10", "str1e3", "negzero", "int53",
        "text", "int10", "thousand", "bfalse", "zero", "btrue", "big", "str9", "nine5", "neg",
        "tiny", "tenth", "array", "object"]  # " apple", "10.0", "9", "APPLE", ... "😀"


def test_numbers_past_a_double_read_as_infinity_or_zero(stored, session):
    """Written by another tool (the hub stores no such numbers): no error, and alike."""
    postgres = session.get_bind().dialect.name == "postgresql"
    change = text("UPDATE records SET data = " + ("CAST(:data AS jsonb)" if postgres else ":data")
                  + " WHERE record_id = :id")
    for record_id, data in (("big", '{"amount": 1e400}'), ("tiny", '{"amount": -1e-400}'),
                            ("neg", '{"amount": -2e308}'),
                            ("nine5", '{"amount": 1.7976931348623158e308}')):  # the largest
        session.execute(change, {"data": data, "id": record_id})
    session.commit()
    assert set(stored("(amount,eq,1e999)")) == {"big"}
    assert set(stored("(amount,eq,-1e999)")) == {"neg"}
    assert set(stored("(amount,eq,0)")) == {"zero", "negzero", "tiny"}
    assert set(stored("(amount,eq,1.7976931348623157e308)")) == {"nine5"}
    assert stored(sort_text="amount")[:2] == ["neg", "minint"]
    assert stored(sort_text="-amount")[11] == "big"  # after objects, booleans and strings


@pytest.fixture
def icu_database():
    """A PostgreSQL database whose default collation is ICU's (``a`` < ``B`` < ``b``), as a
    server set up for people has: what ``COLLATE "C"`` must override. The hub's
    schema, migrated."""
    import psycopg

    name = f"{worker_name('ihub_icu')}_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        missing_component(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
                      "ICU_LOCALE 'und' LOCALE 'C.UTF-8'")
        engine = create_engine(POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://")
                               .rpartition("/")[0] + f"/{name}")
        try:
            # The hub's schema; no integration row for the records.
            migrations.upgrade(str(engine.url.render_as_string(hide_password=False)))
            with engine.begin() as connection:
                connection.execute(text("ALTER TABLE records DROP CONSTRAINT "
                                        "fk_records_integration_id_integrations"))
            yield engine
        finally:
            engine.dispose()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_text_compares_by_code_point_whatever_the_databases_collation(icu_database):
    names = {"r1": "b", "r2": "B", "r3": "a", "R4": "A", "r5": "é", "r6": "z", "r7": "_"}
    with icu_database.begin() as connection:
        for record_id, name in names.items():
            connection.execute(text("INSERT INTO records (integration_id, model, record_id, "
                                    "data, created_at, updated_at) VALUES ('i', 'm', :id, "
                                    "CAST(:data AS jsonb), now(), now())"),
                               {"id": record_id, "data": json.dumps({"name": name})})
        assert connection.scalar(text("SELECT 'a' < 'B'"))  # the database's own order

        def ids(where_text: str, sort_text: str) -> list[str]:
            node = where.parse_where(where_text)
            query = select(Record.record_id).where(condition(node, "postgresql")).order_by(
                *ordering(where.parse_sort(sort_text), "postgresql"))
            return list(connection.scalars(query))

        assert ids("(name,lt,a)", "name") == ["R4", "r2", "r7"]  # A B _ before a
        assert ids("(name,notblank)", "-name") == ["r5", "r6", "r1", "r3", "r7", "r2", "R4"]
        assert ids("(name,btw,A,Z)", "") == ["R4", "r2"]  # ids by code point too: R before r


# -- any filter: the database answers as the reference does -------------------------------------

FIELDS = ["amount", "name", "flag", "note", "absent"]
VALUES = ["10", "10.0", "9.5", "-2.5", "1e3", "0", "-0", "1e20", "9007199254740992", "9",
          "abc", "apple", "Apple", "%", "%pp%", "_", "a_b", "a%b", "é%", "%CLAIR", "Éclair",
          "true", "false", "", "x,y", "(p)", "~t", "a\\b", "z", "😀", "'--", "10e0", "ｚ",
          "STRASSE", " apple", "line\nbreak", "a" * 199 + "b", "a" * 200, "a" * 201,
          "a" * 199 + "b" + "c" * 50, "a" * 199 + "bc"]


def terms() -> st.SearchStrategy[Term]:
    def values(op: str):
        least, most = where.ARITY[op]
        return st.lists(st.sampled_from(VALUES), min_size=least, max_size=min(most, 3))

    return st.sampled_from(sorted(where.OPERATORS)).flatmap(
        lambda op: st.builds(lambda f, vs: Term(f, op, tuple(vs)), st.sampled_from(FIELDS),
                             values(op)))


TREES = st.recursive(terms(), lambda inner: st.one_of(
    st.lists(inner, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
    st.lists(inner, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
    inner.map(Not)), max_leaves=5)
SORTS = st.lists(st.tuples(st.sampled_from(FIELDS), st.booleans()), max_size=3,
                 unique_by=lambda key: key[0])


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=TREES, sort=SORTS)
def test_any_filter_and_order_as_the_reference_answers(with_long, tree, sort):
    where_text = where.unparse(tree)
    try:
        node = where.parse_where(where_text)
    except where.WhereInvalid as refused:  # nested deeper than the parser takes
        assert "nested deeper" in refused.detail
        assume(False)
    sort_text = ",".join(("-" if descending else "") + field for field, descending in sort)
    assert with_long(where_text, sort_text) == reference(node, where.parse_sort(sort_text),
                                                         with_long.data)


def test_long_texts_compare_whole(with_long):
    """Texts that differ only past their first 200 characters compare as wholes."""
    stored = with_long
    short, long_ = "a" * 199 + "b", "a" * 199 + "b" + "c" * 50
    assert stored(f"(name,eq,{short})") == ["long2"]
    assert stored(f"(name,eq,{long_})") == ["long"]
    assert stored(f"(name,gt,{short})~and(name,lt,ab)") == ["long"]
    assert stored(f"(name,ge,{long_})~and(name,lt,ab)") == ["long"]
    assert stored(f"(name,lt,{long_})~and(name,gt,aa)") == ["long2"]
    assert stored(f"(note,in,x,{'a' * 200})") == ["long"]
    assert stored("(note,like,aaaa%)") == ["long", "long2"]
    assert stored(f"(amount,btw,{'a' * 200},{'a' * 201})") == ["long"]
