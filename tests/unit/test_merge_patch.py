"""JSON merge patch (json_body.merge_patch): the examples of RFC 7396, appendix A, and what
the function leaves alone."""

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration_hub.json_body import merge_patch

RFC_7396_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize("target, patch, result", RFC_7396_EXAMPLES)
def test_the_rfcs_examples(target, patch, result):
    assert merge_patch(target, patch) == result


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=3),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=2), inner, max_size=3), max_leaves=12)


@given(target=_JSON, patch=_JSON)
def test_neither_argument_is_changed(target, patch):
    kept_target, kept_patch = copy.deepcopy(target), copy.deepcopy(patch)

    merge_patch(target, patch)

    assert (target, patch) == (kept_target, kept_patch)


@given(target=_JSON, patch=st.dictionaries(st.text(max_size=2), _JSON, max_size=3))
def test_a_patch_applied_twice_changes_nothing_more(target, patch):
    once = merge_patch(target, patch)

    assert merge_patch(once, patch) == once
