"""Reading ``where``, ``sort`` and ``fields`` (records/where.py): the tree each text gives,
every refusal with the term or character it names, and by property: no text raises
anything but the validation error, and a printed tree reads back as the same tree."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from integration_hub import errors
from integration_hub.records import where
from integration_hub.records.where import (
    And,
    FieldsInvalid,
    Not,
    Or,
    SortInvalid,
    SortKey,
    Term,
    WhereInvalid,
    parse_fields,
    parse_sort,
    parse_where,
    unparse,
)


def t(field: str, op: str, *values: str) -> Term:
    return Term(field, op, values)


A, B, C = t("a", "eq", "1"), t("b", "eq", "2"), t("c", "eq", "3")

PARSED = [
    ("(a,eq,1)", A),
    ("(a,eq,)", t("a", "eq", "")),
    ("(name,eq,John Smith )", t("name", "eq", "John Smith ")),
    ("(status,in,open,closed,new)", t("status", "in", "open", "closed", "new")),
    ("(amount,btw,10,20)", t("amount", "btw", "10", "20")),
    ("(a,blank)", t("a", "blank")),
    ("(a,notblank)", t("a", "notblank")),
    ("(A_b-9,like,%x%)", t("A_b-9", "like", "%x%")),
    ("(-,neq,1)", t("-", "neq", "1")),
    ("(" + "f" * 64 + ",lt,1)", t("f" * 64, "lt", "1")),
    ("(a,eq,Éclair😀)", t("a", "eq", "Éclair😀")),
    (r"(a,eq,x\,y\(z\)\~\\)", t("a", "eq", "x,y(z)~\\")),
    (r"(a,in,\,,\))", t("a", "in", ",", ")")),
    ("(a,eq,%_'\"$.[0]*)", t("a", "eq", "%_'\"$.[0]*")),
    # ~and binds tighter than ~or; ~not tighter than both
    ("(a,eq,1)~or(b,eq,2)~and(c,eq,3)", Or((A, And((B, C))))),
    ("(a,eq,1)~and(b,eq,2)~or(c,eq,3)", Or((And((A, B)), C))),
    ("(a,eq,1)~and(b,eq,2)~and(c,eq,3)", And((A, B, C))),
    ("((a,eq,1)~or(b,eq,2))~and(c,eq,3)", And((Or((A, B)), C))),
    ("~not(a,eq,1)~and(b,eq,2)", And((Not(A), B))),
    ("(a,eq,1)~and~not(b,eq,2)", And((A, Not(B)))),
    ("~not((a,eq,1)~or(b,eq,2))", Not(Or((A, B)))),
    ("~not~not(a,eq,1)", Not(Not(A))),
    ("((a,eq,1))", A),
    ("((a,eq,1)~and(b,eq,2))~and(c,eq,3)", And((And((A, B)), C))),
    ("(~not(a,eq,1))", Not(A)),
    ("(" * 8 + "(a,eq,1)" + ")" * 8, A),  # eight groups: the most
    ("~not" * 8 + "(a,eq,1)", Not(Not(Not(Not(Not(Not(Not(Not(A))))))))),
    ("~and".join(["(a,eq,1)"] * 50), And((A,) * 50)),
]


@pytest.mark.parametrize(("text", "tree"), PARSED)
def test_where_reads_as(text, tree):
    assert parse_where(text) == tree


@pytest.mark.parametrize("text", [None, ""])
def test_no_where_is_every_record(text):
    assert parse_where(text) is None


TERM_OVER_64 = "(a,zz," + "v" * 200 + ")"
IN_101 = "(a,in," + ",".join("v" * 101) + ")"
REFUSED = [
    ("(amount,gtt,5)", "term 1 (amount,gtt,5): unknown operator 'gtt'"),
    ("(a,eq,1)~and(amount,gtt,5)", "term 2 (amount,gtt,5): unknown operator 'gtt'"),
    ("(a,EQ,1)", "term 1 (a,EQ,1): unknown operator 'EQ'"),
    ("(a,,1)", "term 1 (a,,1): unknown operator ''"),
    ("(a.b,eq,1)", "term 1 (a.b,eq,1): the field name is not 1-64 letters, digits, '_' or '-'"),
    ('(a"."b,eq,1)', "term 1 (a\".\"b,eq,1): the field name is not 1-64 letters, digits, "
                     "'_' or '-'"),
    ("()", "term 1 (): the field name is not 1-64 letters, digits, '_' or '-'"),
    ("(" + "f" * 65 + ",eq,1)", "term 1 (" + "f" * 63 + "…: the field name is not 1-64 "
                                "letters, digits, '_' or '-'"),
    ("(a)", "term 1 (a): expected ',' and an operator after the field name"),
    ("(a,eq)", "term 1 (a,eq): eq takes one value (write '\\,' for a comma in a value)"),
    ("(a,eq,1,2)", "term 1 (a,eq,1,2): eq takes one value (write '\\,' for a comma in a value)"),
    ("(a,btw,1)", "term 1 (a,btw,1): btw takes two values, the lower and the upper bound"),
    ("(a,btw,1,2,3)", "term 1 (a,btw,1,2,3): btw takes two values, the lower and the upper "
                      "bound"),
    ("(a,blank,)", "term 1 (a,blank,): blank takes no value"),
    ("(a,in)", "term 1 (a,in): in takes 1 to 100 values"),
    (IN_101, "term 1 " + IN_101[:64] + "…: more than 100 values"),
    ("(a,eq,1", "term 1 (a,eq,1: missing ')' at the end"),
    ("(a,eq,x(y)", "term 1 (a,eq,x(y): at character 8: write '\\(' for a '(' in a value"),
    ("(a,eq,1~and(b,eq,2)", "term 1 (a,eq,1~and(b,eq,2): at character 8: write '\\~' for a "
                            "'~' in a value"),
    ("(a,eq,\\n)", "term 1 (a,eq,\\n): at character 7: '\\' must come before one of , ( ) ~ \\"),
    ("(a,eq,x\\", "term 1 (a,eq,x\\: at character 8: '\\' must come before one of , ( ) ~ \\"),
    ("(a,eq,1)(b,eq,2)", "at character 9: expected ~and, ~or or the end, found '('"),
    ("(a,eq,1) ~and(b,eq,2)", "at character 9: expected ~and, ~or or the end, found ' '"),
    ("(a,eq,1)~xor(b,eq,2)", "at character 9: expected ~and, ~or or the end, found '~'"),
    ("(a,eq,1)~AND(b,eq,2)", "at character 9: expected ~and, ~or or the end, found '~'"),
    ("(a,eq,1)~and", "at character 13: expected '(' or '~not', found the end"),
    ("(a,eq,1)~andx", "at character 13: expected '(' or '~not', found 'x'"),
    ("(a,eq,1))", "at character 9: ')' closes no group"),
    ("((a,eq,1)", "at character 10: expected ~and, ~or or ')', found the end"),
    ("a,eq,1", "at character 1: expected '(' or '~not', found 'a'"),
    (" (a,eq,1)", "at character 1: expected '(' or '~not', found ' '"),
    ("(" * 9 + "(a,eq,1)" + ")" * 9, "at character 10: nested deeper than 8 (groups and ~not)"),
    ("~not" * 9 + "(a,eq,1)", "at character 37: nested deeper than 8 (groups and ~not)"),
    ("~and".join(["(a,eq,1)"] * 51), "term 51: more than 50 terms"),
    ("(a,eq," + "x" * 1994 + ")", "longer than 2000 characters"),
    ("(a,eq,\x00)", "at character 7: NUL and lone surrogate characters are not allowed"),
    ("(a,eq,x\udc80)", "at character 8: NUL and lone surrogate characters are not allowed"),
    (TERM_OVER_64, "term 1 " + TERM_OVER_64[:64] + "…: unknown operator 'zz'"),
    ("(a,eq,1,\t" + "v" * 99, "term 1 (a,eq,1,\\u0009" + "v" * 55 + "…: missing ')' at the end"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_where_refused_naming_the_term_or_character(text, message):
    with pytest.raises(WhereInvalid) as refused:
        parse_where(text)
    assert refused.value.errors == {"where": [message]}


def test_the_refusal_is_a_422_about_the_where_parameter():
    with pytest.raises(errors.ValidationFailed) as refused:
        parse_where("(amount,gtt,5)")
    problem = errors.problem_body(refused.value)
    assert problem["status"] == 422 and problem["code"] == "where_invalid"
    assert problem["detail"] == "where: term 1 (amount,gtt,5): unknown operator 'gtt'"
    assert problem["fields"] == {"missing": [], "unknown": [], "invalid": ["where"]}


def test_a_where_of_the_most_characters_is_read():
    text = "(a,eq," + "x" * 1993 + ")"
    assert len(text) == where.MAX_WHERE_LENGTH
    assert parse_where(text) == t("a", "eq", "x" * 1993)


@pytest.mark.parametrize(("value", "number"), [
    ("10", 10.0), ("-2.5", -2.5), ("1e3", 1000.0), ("1E+3", 1000.0), ("2.5e-1", 0.25),
    ("0", 0.0), ("-0", -0.0), ("1e999", float("inf")),
])
def test_a_value_written_as_a_json_number_is_a_number(value, number):
    assert where.number(value) == number


@pytest.mark.parametrize("value", [
    "+1", ".5", "5.", "010", "0x10", "1_000", " 1", "1 ", "inf", "NaN", "", "-", "1e",
    "١٢", "１０", "1١", "2.٥", "1.5.1",  # digits of other scripts: float() reads them
])
def test_other_values_are_only_text(value):
    assert where.number(value) is None


# -- sort and fields ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "keys"), [
    ("-amount,name", (SortKey("amount", True), SortKey("name"))),
    ("amount", (SortKey("amount"),)),
    ("--x", (SortKey("-x", True),)),
    ("", ()),
    (None, ()),
    (",".join(f"f{n}" for n in range(10)), tuple(SortKey(f"f{n}") for n in range(10))),
])
def test_sort_reads_as(text, keys):
    assert parse_sort(text) == keys


@pytest.mark.parametrize(("text", "message"), [
    ("amount,", "key 2 (''): not a field name (1-64 letters, digits, '_' or '-')"),
    ("a b", "key 1 ('a b'): not a field name (1-64 letters, digits, '_' or '-')"),
    ("+a", "key 1 ('+a'): not a field name (1-64 letters, digits, '_' or '-')"),
    ("a\n", "key 1 ('a\\u000a'): not a field name (1-64 letters, digits, '_' or '-')"),
    ("a,-a", "key 2 ('-a'): a is already a key"),
    (",".join(f"f{n}" for n in range(11)), "more than 10 names"),
    ("a" * 661, "more than 10 names"),
])
def test_sort_refused(text, message):
    with pytest.raises(SortInvalid) as refused:
        parse_sort(text)
    assert refused.value.errors == {"sort": [message]}
    assert refused.value.code == "sort_invalid"


def test_fields_read_in_order():
    assert parse_fields("amount,name,-x") == ("amount", "name", "-x")
    assert parse_fields("") == ()
    assert len(parse_fields(",".join(f"f{n}" for n in range(50)))) == 50


@pytest.mark.parametrize(("text", "message"), [
    ("a,a", "field 2 ('a'): named twice"),
    ("a,$", "field 2 ('$'): not a field name (1-64 letters, digits, '_' or '-')"),
    ("a.b", "field 1 ('a.b'): not a field name (1-64 letters, digits, '_' or '-')"),
    (",".join(f"f{n}" for n in range(51)), "more than 50 names"),
])
def test_fields_refused(text, message):
    with pytest.raises(FieldsInvalid) as refused:
        parse_fields(text)
    assert refused.value.errors == {"fields": [message]}
    assert refused.value.code == "fields_invalid"


# -- properties ---------------------------------------------------------------------------------

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=300)  # surrogates too
TOKENS = ["(", ")", ",", "~and", "~or", "~not", "~", "\\", "a", "amount", "eq", "in", "btw",
          "blank", "like", "1", "-2.5", "%", " ", "é", "\x00", "\ud800", "((", "))"]
GRAMMAR_LIKE = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)
LONG = st.builds(lambda unit, times: unit * times, st.sampled_from(["(", "~not", "(a,eq,1)~and"]),
                 st.integers(0, 3000))


@settings(max_examples=300, deadline=None)
@given(st.one_of(ANY_TEXT, GRAMMAR_LIKE, LONG))
def test_any_text_is_read_or_refused_with_where_invalid(text):
    try:
        tree = parse_where(text)
    except WhereInvalid as refused:
        (message,) = refused.errors["where"]
        assert len(message) < 250
        return
    assert tree is None or isinstance(tree, Term | And | Or | Not)


@settings(max_examples=200, deadline=None)
@given(st.one_of(ANY_TEXT, GRAMMAR_LIKE))
def test_any_text_is_a_sort_and_field_list_or_refused(text):
    for parse, refusal in ((parse_sort, SortInvalid), (parse_fields, FieldsInvalid)):
        try:
            parse(text)
        except refusal as refused:
            (message,) = next(iter(refused.errors.values()))
            assert len(message) < 250


FIELDS = st.sampled_from(["a", "amount", "x-1", "Name_2", "f" * 64])
VALUES = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


def terms() -> st.SearchStrategy[Term]:
    def values(op: str) -> st.SearchStrategy[tuple[str, ...]]:
        least, most = where.ARITY[op]
        return st.lists(VALUES, min_size=least, max_size=min(most, 4)).map(tuple)

    return st.sampled_from(sorted(where.OPERATORS)).flatmap(
        lambda op: st.builds(Term, FIELDS, st.just(op), values(op)))


def trees(leaves: st.SearchStrategy) -> st.SearchStrategy:
    """And and Or of at least two items, as the parser builds them."""
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
        st.lists(inner, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
        inner.map(Not)), max_leaves=8)


def depth(node, grouped: bool = False) -> int:
    """Nesting as the printer writes ``node``: ~not and each group it puts in parentheses."""
    if isinstance(node, Term):
        return 0
    if isinstance(node, Not):
        return 1 + depth(node.item, not isinstance(node.item, Term | Not))
    kinds = (And, Or) if isinstance(node, And) else (Or,)
    return int(grouped) + max(depth(item, isinstance(item, kinds)) for item in node.items)


@settings(deadline=None)
@given(trees(terms()))
def test_a_printed_tree_reads_back_as_the_same_tree(tree):
    assume(depth(tree) <= where.MAX_DEPTH)
    text = unparse(tree)
    assume(len(text) <= where.MAX_WHERE_LENGTH)
    assert parse_where(text) == tree


@settings(deadline=None)
@given(VALUES)
def test_any_value_survives_escaping(value):
    assert parse_where(unparse(t("a", "eq", value))) == t("a", "eq", value)
