"""Named parameters for pyformat drivers: placed outside literals, comments and casts."""

import pytest

from integration_hub.databases.sql_params import MissingParameter, to_pyformat


@pytest.mark.parametrize("sql, params, expected, used", [
    ("SELECT :a", {"a": 1}, "SELECT %(a)s", {"a": 1}),
    ("SELECT * FROM t WHERE x = :x AND y = :x", {"x": 2, "z": 3},
     "SELECT * FROM t WHERE x = %(x)s AND y = %(x)s", {"x": 2}),
    ("SELECT 'meet at :noon', :n", {"n": 7}, "SELECT 'meet at :noon', %(n)s", {"n": 7}),
    ("SELECT 'it''s :x'", {"q": 1}, "SELECT 'it''s :x'", {}),
    ("SELECT \"col:x\" FROM t", {"q": 1}, "SELECT \"col:x\" FROM t", {}),
    ("SELECT `a:b`", {"q": 1}, "SELECT `a:b`", {}),
    ("SELECT :v::int", {"v": "5"}, "SELECT %(v)s::int", {"v": "5"}),
    ("SELECT '{\"a\":1}'::jsonb, :p", {"p": 1}, "SELECT '{\"a\":1}'::jsonb, %(p)s", {"p": 1}),
    ("SELECT 1 -- :c\n, :d", {"d": 4}, "SELECT 1 -- :c\n, %(d)s", {"d": 4}),
    ("SELECT /* :c */ :d", {"d": 4}, "SELECT /* :c */ %(d)s", {"d": 4}),
    ("SELECT $$ :c $$, :d", {"d": 4}, "SELECT $$ :c $$, %(d)s", {"d": 4}),
    ("SELECT $t$ :c $t$", {"x": 1}, "SELECT $t$ :c $t$", {}),
    ("SELECT '100%', :p LIKE 'a%'", {"p": "x"}, "SELECT '100%%', %(p)s LIKE 'a%%'", {"p": "x"}),
    ("SELECT 5 % 2, :p", {"p": 1}, "SELECT 5 %% 2, %(p)s", {"p": 1}),
    ("SELECT 'a\\'b :x', :y", {"y": 1}, "SELECT 'a\\'b :x', %(y)s", {"y": 1}),
])
def test_to_pyformat(sql, params, expected, used):
    assert to_pyformat(sql, params) == (expected, used)


def test_missing_parameter_is_named():
    with pytest.raises(MissingParameter) as missing:
        to_pyformat("SELECT :here, :missing", {"here": 1})
    assert str(missing.value) == "missing"
