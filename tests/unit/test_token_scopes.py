"""The pure rules of token scopes (integration_hub/identity/token_scopes.py)."""

import pytest

from integration_hub.identity import token_scopes as ts


@pytest.mark.parametrize(("requested", "expected"), [
    (["read"], ("read",)),
    (["proxy", "read", "proxy"], ("read", "proxy")),
    (["admin"], ("read", "proxy", "admin")),
    (["read", "admin"], ("read", "proxy", "admin")),
    ([], ()),
])
def test_normalised_orders_dedupes_and_lets_admin_bring_the_rest(requested, expected):
    assert ts.normalised(requested) == expected
    assert ts.parsed(ts.stored(requested)) == expected


@pytest.mark.parametrize(("method", "marked", "expected"), [
    ("GET", None, "read"), ("head", None, "read"), ("OPTIONS", None, "read"),
    ("POST", None, "admin"), ("PUT", None, "admin"), ("PATCH", None, "admin"),
    ("DELETE", None, "admin"), ("GET", "proxy", "proxy"), ("POST", "proxy", "proxy"),
    ("GET", "admin", "admin"),
])
def test_needed_follows_the_mark_then_the_method(method, marked, expected):
    assert ts.needed(method, marked) == expected


def test_beyond_names_what_the_parent_lacks():
    assert ts.beyond(["read"], ("read", "proxy")) == []
    assert ts.beyond(["admin"], ("read", "proxy")) == ["admin"]
    assert ts.beyond(["read", "proxy"], ("proxy",)) == ["read"]
    assert ts.beyond(["admin"], ts.SCOPES) == []


def test_unknown_names_are_reported_in_order():
    assert ts.unknown(["read", "write", "root"]) == ["write", "root"]
    assert ts.parsed("read bogus") == ("read",)
