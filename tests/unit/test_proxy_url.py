"""The proxy's URL guard (docs/decisions.md, "URL guard"): joining, refusing, redirects, hosts."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from integration_hub import errors
from integration_hub.proxy.url_guard import UrlOutsideBase, build_upstream_url, redirect_target

BASE = "https://api.example.com/v1"
ALLOWED = ["files.example.com", "uploads.example.com:8443", "*.cdn.example.com"]


def refused(call, *args, **kwargs) -> UrlOutsideBase:
    with pytest.raises(UrlOutsideBase) as caught:
        call(*args, **kwargs)
    return caught.value


def test_error_is_a_400_bad_request():
    assert issubclass(UrlOutsideBase, errors.BadRequest)
    assert UrlOutsideBase.status == 400 and UrlOutsideBase.code == "url_outside_base"
    assert UrlOutsideBase.title == "The URL leaves the integration's base URL"


# -- accepted targets -------------------------------------------------------------------

ACCEPTED = [
    ("users", "https://api.example.com/v1/users"),
    ("/users", "https://api.example.com/v1/users"),
    ("users/42?x=1", "https://api.example.com/v1/users/42?x=1"),
    ("/users/42?x=1&y=%2F", "https://api.example.com/v1/users/42?x=1&y=%2F"),
    ("", "https://api.example.com/v1"),
    ("/", "https://api.example.com/v1/"),
    ("users/", "https://api.example.com/v1/users/"),
    ("users//42", "https://api.example.com/v1/users//42"),
    ("/users/@me", "https://api.example.com/v1/users/@me"),
    ("users/a@b.c", "https://api.example.com/v1/users/a@b.c"),
    ("files/a%20b", "https://api.example.com/v1/files/a%20b"),
    ("names/caf%C3%A9", "https://api.example.com/v1/names/caf%C3%A9"),
    ("names/café", "https://api.example.com/v1/names/caf%C3%A9"),
    ("search/a%2Fb", "https://api.example.com/v1/search/a%2Fb"),
    ("data/%00%0A", "https://api.example.com/v1/data/%00%0A"),
    ("items/a:b", "https://api.example.com/v1/items/a:b"),
    ("items:list", "https://api.example.com/v1/items:list"),
    ("urn:isbn:123", "https://api.example.com/v1/urn:isbn:123"),
    ("C:/x", "https://api.example.com/v1/C:/x"),
    ("/http://evil.example", "https://api.example.com/v1/http://evil.example"),
    ("...", "https://api.example.com/v1/..."),
    ("..foo/.hidden/a..b", "https://api.example.com/v1/..foo/.hidden/a..b"),
    ("v/1.2.3", "https://api.example.com/v1/v/1.2.3"),
    ("users#section", "https://api.example.com/v1/users"),
    ("users?x=1#frag", "https://api.example.com/v1/users?x=1"),
    ("#only", "https://api.example.com/v1"),
    ("?page=2", "https://api.example.com/v1?page=2"),
    ("q?path=../../etc&b=a\\b", "https://api.example.com/v1/q?path=../../etc&b=a\\b"),
    ("sheet!A1:B2;x=1", "https://api.example.com/v1/sheet!A1:B2;x=1"),
    ("https://api.example.com/v1/users", "https://api.example.com/v1/users"),
    ("HTTPS://API.EXAMPLE.COM:443/v1/users?x=1", "HTTPS://API.EXAMPLE.COM:443/v1/users?x=1"),
    ("https://api.example.com/v1", "https://api.example.com/v1"),
    ("a" * 8000, "https://api.example.com/v1/" + "a" * 8000),
]


@pytest.mark.parametrize("target, expected", ACCEPTED, ids=[t[:40] or "<empty>" for t, _ in ACCEPTED])
def test_accepted_targets(target, expected):
    assert build_upstream_url(BASE, target) == expected


@pytest.mark.parametrize("base, target, expected", [
    ("https://api.example.com/v1/", "users", "https://api.example.com/v1/users"),
    ("https://api.example.com/v1/", "/users", "https://api.example.com/v1/users"),
    ("https://api.example.com/v1/", "", "https://api.example.com/v1/"),
    ("https://api.example.com", "users", "https://api.example.com/users"),
    ("https://api.example.com", "", "https://api.example.com/"),
    ("https://api.example.com/", "/users", "https://api.example.com/users"),
    ("http://localhost:8080/api/v2", "x", "http://localhost:8080/api/v2/x"),
    ("https://api.example.com/v1?key=abc", "users?x=1", "https://api.example.com/v1/users?key=abc&x=1"),
    ("https://api.example.com/v1?key=abc", "", "https://api.example.com/v1?key=abc"),
    ("https://api.example.com/v1#frag", "users", "https://api.example.com/v1/users"),
    ("https://[2001:db8::1]:8443/v1", "users", "https://[2001:db8::1]:8443/v1/users"),
], ids=lambda value: value if isinstance(value, str) and len(value) < 40 else None)
def test_base_shapes(base, target, expected):
    assert build_upstream_url(base, target) == expected


@pytest.mark.parametrize("base", [
    "api.example.com/v1", "/v1", "ftp://api.example.com/", "https:///v1", "https://api.example.com:x/",
    "https://api.example.com/v1/../admin", "https://api.example.com/a b", "https://api.example.com\\@evil/",
    "https://api.example.com/v1\n",
], ids=["no-scheme", "path-only", "ftp", "no-host", "bad-port", "dotdot", "space", "backslash", "newline"])
def test_a_broken_base_is_refused(base):
    refused(build_upstream_url, base, "users")


# -- refused targets --------------------------------------------------------------------

REFUSED = {
    # raw control characters and spaces, in the path or the target's query
    "cr": "users\rX-Evil: 1", "lf": "users\nHost: evil", "crlf-query": "users?x=1\r\nX: y",
    "nul": "users\x00", "tab": "users\tx", "vt": "a\x0bb", "esc": "a\x1bb", "del": "a\x7fb",
    "c1-nel": "a\x85b", "space": "users/a b", "space-query": "users?q=a b",
    "lone-surrogate": "a\ud800b",
    # backslashes, raw or encoded
    "backslash": "users\\admin", "backslash-dotdot": "..\\admin", "encoded-backslash": "a%5c..%5cadmin",
    "encoded-backslash-upper": "a%5Cb", "double-encoded-backslash": "a%255cb",
    "encoded-backslash-pair": "%5c%5cevil",
    # dot segments, raw and encoded in every way
    "dotdot": "../admin", "dotdot-slash": "/../admin", "dotdot-middle": "a/../../admin",
    "dotdot-end": "a/..", "dotdot-alone": "..", "enc-dotdot": "%2e%2e/admin",
    "enc-dotdot-upper": "%2E%2E/admin", "half-enc-1": ".%2e/admin", "half-enc-2": "%2e./admin",
    "half-enc-3": ".%2E/admin", "dotdot-enc-slash": "..%2fadmin", "enc-dotdot-enc-slash": "%2e%2e%2fadmin",
    "enc-slash-dotdot": "a%2F..%2Fb", "enc-chain": "a/%2e%2e%2f%2e%2e/admin",
    "double-enc": "%252e%252e/admin", "double-enc-slash": "a%252F..%252Fb", "triple-enc": "%25252e%25252e/x",
    "enc-dotdot-backslash": "%2e%2e%5cadmin", "dotdot-param": "a/..;/admin", "dotdot-param-enc": "a/..%3bx/b",
    "dotdot-padded": "a/..%20/b", "dotdot-nul": "a/..%00/b", "fullwidth-dots": "a/\uff0e\uff0e/b",
    "fullwidth-dots-enc": "a/%EF%BC%8E%EF%BC%8E/b", "two-dot-leader": "a/\u2025/b",
    "fullwidth-solidus": "a\uff0f..\uff0fb", "too-deep": "%" + "25" * 6 + "2e",
    # single dot segments
    "dot": ".", "dot-slash": "./users", "dot-middle": "a/./b", "dot-end": "a/.", "enc-dot": "%2e/users",
    # scheme-relative
    "scheme-relative": "//evil.example/x", "triple-slash": "///evil.example", "slash-backslash": "/\\evil",
    "backslash-pair": "\\\\evil", "enc-scheme-relative": "%2F%2Fevil.example",
    "half-enc-scheme-rel": "/%2Fevil",
    # absolute URLs to other hosts or other schemes
    "abs-other-host": "https://evil.example/x", "abs-http-other": "http://127.0.0.1:9/x",
    "abs-same-host-other-prefix": "https://api.example.com/admin", "abs-prefix-lookalike": "https://api.example.com/v1x",
    "abs-other-port": "https://api.example.com:8443/v1/x", "abs-downgrade": "http://api.example.com/v1/x",
    "abs-dotdot": "https://api.example.com/v1/../admin", "abs-enc-dotdot": "https://api.example.com/v1/%2e%2e/x",
    "abs-subdomain": "https://api.example.com.evil.example/v1", "abs-no-host": "https:///v1/x",
    "abs-one-slash": "https:/evil.example", "abs-opaque": "http:evil.example", "abs-bad-ipv6": "https://[evil/x",
    "abs-bad-port": "https://api.example.com:99999/v1", "javascript": "javascript:alert(1)",
    "file": "file:///etc/passwd", "ftp": "ftp://api.example.com/v1", "data": "data:text/html,x",
    "mailto": "mailto:a@b.c", "custom-scheme": "gopher://evil.example/",
    "upper-scheme": "JAVASCRIPT:alert(1)",
    # user info tricks
    "userinfo-host": "https://api.example.com@evil.example/", "userinfo-port": "https://api.example.com:443@evil/",
    "userinfo-same": "https://user:pw@api.example.com/v1/x", "userinfo-user": "https://user@evil.example/",
    # too long
    "too-long": "a" * 8193,
}


@pytest.mark.parametrize("target", REFUSED.values(), ids=REFUSED.keys())
def test_refused_targets(target):
    refused(build_upstream_url, BASE, target)


@pytest.mark.parametrize("target", [
    "https://user:pw@files.example.com/x", "https://files.example.com\\@evil/", "https://files.example.com/a/../b",
    "https://files.example.com/a%2F..%2Fb", "https://files.example.com/a\r\nb", "ftp://files.example.com/x",
    "javascript://files.example.com/%0aalert(1)", "https://files.example.com:8443/x",
    "https://uploads.example.com/x", "https://cdn.example.com/x", "https://files.example.com.evil/x",
], ids=["userinfo", "backslash", "dotdot", "enc-dotdot", "crlf", "ftp", "javascript", "wrong-port",
        "port-required", "wildcard-not-apex", "suffix-lookalike"])
def test_allowed_hosts_keep_every_other_rule(target):
    refused(build_upstream_url, BASE, target, allowed_hosts=ALLOWED)


# -- queries ----------------------------------------------------------------------------

@pytest.mark.parametrize("target, query, expected", [
    ("users", {"a": "1", "b": "x y"}, "users?a=1&b=x+y"),
    ("users", [("a", "1"), ("a", "2")], "users?a=1&a=2"),
    ("users", {"tags": ["x", "y"], "n": 3}, "users?tags=x&tags=y&n=3"),
    ("users", {"on": True, "off": False, "gone": None}, "users?on=true&off=false"),
    ("users", {"list": [True, None, "z"]}, "users?list=true&list=z"),
    ("users", {"q": "a&b=c", "é": "ü"}, "users?q=a%26b%3Dc&%C3%A9=%C3%BC"),
    ("users", {"gone": None}, "users"),
    ("users", {}, "users"),
    ("users", None, "users"),
    ("users?x=1", {"y": 2}, "users?x=1&y=2"),
    ("users?x=1", "y=2", "users?x=1&y=2"),
    ("users", "a=%2F&b=1+2&c&d=ü", "users?a=%2F&b=1+2&c&d=%C3%BC"),
    ("users", "?a=1", "users?a=1"),
    ("users", "", "users"),
    ("", "a=1", "?a=1"),
], ids=["mapping", "sequence", "doseq", "bool-none", "list-bool-none", "escaping", "all-none",
        "empty-mapping", "none", "merge-mapping", "merge-raw", "raw-byte-for-byte", "raw-leading-?",
        "raw-empty", "base-only"])
def test_query_handling(target, query, expected):
    assert build_upstream_url(BASE, target, query=query) == BASE + ("/" if target else "") + expected


def test_query_follows_the_base_query_and_the_target_query():
    url = build_upstream_url("https://api.example.com/v1?key=k", "x?a=1", query={"b": 2})
    assert url == "https://api.example.com/v1/x?key=k&a=1&b=2"


def test_query_is_appended_to_an_allowed_absolute_url():
    url = build_upstream_url(BASE, "https://files.example.com/f?a=1#x", query="b=2", allowed_hosts=ALLOWED)
    assert url == "https://files.example.com/f?a=1&b=2"


@pytest.mark.parametrize("query", ["a=1\r\nX: y", "a=b c", "a=\x00", "a=\x7f", "a=1#frag", "a=\ud800"],
                         ids=["crlf", "space", "nul", "del", "hash", "surrogate"])
def test_raw_query_refuses_control_characters_spaces_and_fragments(query):
    refused(build_upstream_url, BASE, "users", query=query)


# -- allowed hosts ----------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "https://files.example.com/any/path?x=1",
    "http://files.example.com/any",
    "https://FILES.Example.COM/x",
    "https://files.example.com:443/x",
    "https://uploads.example.com:8443/x",
    "https://a.cdn.example.com/x",
    "https://a.b.cdn.example.com/x",
    "https://files.example.com/users/@me",
    "https://files.example.com",
])
def test_allowed_absolute_urls_are_used_as_given(target):
    assert build_upstream_url(BASE, target, allowed_hosts=ALLOWED) == target


def test_allowed_hosts_may_be_a_generator_and_are_case_insensitive():
    hosts = (h for h in ["FILES.EXAMPLE.COM"])
    assert build_upstream_url(BASE, "https://files.example.com/x", allowed_hosts=hosts)


@pytest.mark.parametrize("url, expected", [
    ("https://API.example.com:443/v1", True),
    ("http://api.example.com/v1", False),
    ("https://api.example.com:8443/v1", False),
    ("https://files.example.com/x", True),
    ("https://files.example.com:444/x", False),
    ("https://uploads.example.com:8443/", True),
    ("https://uploads.example.com/", False),
    ("https://x.cdn.example.com/", True),
    ("https://cdn.example.com/", False),
    ("https://evil.example/", False),
    ("https://api.example.com@evil.example/", False),
    ("ftp://files.example.com/", False),
    ("https://api.example.com:bad/", False),
])
def test_absolute_targets_go_only_to_the_base_or_an_allowed_host(url, expected):
    if expected:
        assert build_upstream_url(BASE, url, allowed_hosts=ALLOWED) == url
    else:
        refused(build_upstream_url, BASE, url, allowed_hosts=ALLOWED)


def test_malformed_allowed_host_entries_allow_nothing():
    entries = ["", "user@evil.example", "evil.example/path", "bad:port:x", "[broken"]
    refused(build_upstream_url, BASE, "https://evil.example/", allowed_hosts=entries)
    assert build_upstream_url(BASE, "https://api.example.com/v1/x", allowed_hosts=entries)


def test_default_ports_are_equivalent():
    assert build_upstream_url("https://api.example.com:443/v1", "x") == "https://api.example.com:443/v1/x"
    assert build_upstream_url("https://api.example.com:443/v1",
                              "https://api.example.com/v1/x") == "https://api.example.com/v1/x"
    assert build_upstream_url("http://h/v1", "http://h:80/v1/x") == "http://h:80/v1/x"


# -- redirects --------------------------------------------------------------------------

CURRENT = "https://api.example.com/v1/items/old?x=1"


@pytest.mark.parametrize("location, expected", [
    ("/v1/next", "https://api.example.com/v1/next"),
    ("next", "https://api.example.com/v1/items/next"),
    ("?page=2", "https://api.example.com/v1/items/old?page=2"),
    ("https://api.example.com/v1/new", "https://api.example.com/v1/new"),
    ("https://API.EXAMPLE.COM:443/v1/new", "https://API.EXAMPLE.COM:443/v1/new"),
    ("/v1/new#frag", "https://api.example.com/v1/new"),
    ("/v1/users/@me", "https://api.example.com/v1/users/@me"),
    ("https://files.example.com/blob/1", "https://files.example.com/blob/1"),
    ("//files.example.com/blob", "https://files.example.com/blob"),
    ("http://files.example.com/blob", "http://files.example.com/blob"),
    ("https://x.cdn.example.com/a", "https://x.cdn.example.com/a"),
    ("/v1/caf%C3%A9", "https://api.example.com/v1/caf%C3%A9"),
])
def test_redirects_that_stay(location, expected):
    assert redirect_target(CURRENT, location, BASE, ALLOWED) == expected


REDIRECTS_REFUSED = {
    "other-host": "https://evil.example/steal", "scheme-relative-other": "//evil.example/x",
    "outside-prefix": "/admin", "outside-prefix-abs": "https://api.example.com/admin",
    "dotdot-relative": "../../admin", "dotdot-within": "../sibling", "dotdot-abs": "https://api.example.com/v1/../x",
    "enc-dotdot": "%2e%2e/%2e%2e/admin", "enc-dotdot-abs": "/v1/a%2F..%2F..%2Fadmin", "dot": "./x",
    "downgrade": "http://api.example.com/v1/x", "upgrade-other-port": "https://api.example.com:8443/v1/x",
    "userinfo": "https://user:pw@api.example.com/v1/x", "userinfo-trick": "https://api.example.com@evil.example/",
    "backslash": "/\\evil.example", "crlf": "/v1/x\r\nSet-Cookie: a=b", "space": "/v1/a b",
    "javascript": "javascript:alert(1)", "ftp": "ftp://api.example.com/v1/x", "bad-port": "https://api.example.com:x/",
    "allowed-host-dotdot": "https://files.example.com/a/../b", "allowed-host-userinfo": "https://u@files.example.com/",
    "too-long": "/v1/" + "a" * 8200,
}


@pytest.mark.parametrize("location", REDIRECTS_REFUSED.values(), ids=REDIRECTS_REFUSED.keys())
def test_redirects_that_leave_are_refused(location):
    refused(redirect_target, CURRENT, location, BASE, ALLOWED)


def test_scheme_change_needs_the_host_in_allowed_hosts():
    http_base = "http://api.example.com/v1"
    refused(redirect_target, "http://api.example.com/v1/a", "https://api.example.com/v1/b", http_base)
    assert redirect_target("http://api.example.com/v1/a", "https://api.example.com/v1/b", http_base,
                           ["api.example.com"]) == "https://api.example.com/v1/b"


def test_redirect_keeps_the_bases_own_user_info():
    base = "https://svc:pw@api.example.com/v1"
    assert redirect_target(base + "/a", "b", base) == "https://svc:pw@api.example.com/v1/b"
    refused(redirect_target, base + "/a", "https://other:pw@api.example.com/v1/b", base)


# -- properties -------------------------------------------------------------------------

PROPERTY_BASES = ["https://api.example.com/v1", "https://api.example.com/v1/", "http://h.example:8080",
                  "https://api.example.com/a/b?key=k"]
URLISH = st.text(alphabet="./\\%25eEfFcC:@?#;aA-_ \t\n\x00\u2025\uff0e\uff0f", max_size=40)


def _fully_decoded_segments(path: str) -> list[str]:
    for _ in range(10):
        path = unquote(path)
    return re.split(r"[/\\]", path)


def _port(parts) -> int:
    return parts.port or {"http": 80, "https": 443}[parts.scheme]


def _on_an_allowed_host(url: str) -> bool:
    """``ALLOWED`` spelled out: an entry without a port allows the default port only."""
    parts = urlsplit(url)
    host, port, default = parts.hostname or "", _port(parts), _port(parts._replace(netloc=""))
    return ((host == "files.example.com" and port == default)
            or (host == "uploads.example.com" and port == 8443)
            or (host.endswith(".cdn.example.com") and host != ".cdn.example.com"
                and port == default))


def _assert_under(url: str, base: str) -> None:
    parts, base_parts = urlsplit(url), urlsplit(base)
    assert parts.scheme == base_parts.scheme
    assert parts.hostname == base_parts.hostname
    assert _port(parts) == _port(base_parts)
    prefix = base_parts.path if base_parts.path.endswith("/") else base_parts.path + "/"
    assert parts.path.startswith(prefix) or parts.path == prefix.rstrip("/")
    assert ".." not in _fully_decoded_segments(parts.path)
    assert "." not in _fully_decoded_segments(parts.path)


@settings(max_examples=400)
@given(base=st.sampled_from(PROPERTY_BASES), target=st.one_of(st.text(max_size=60), URLISH))
@example(base=BASE, target="%252e%252e/x")
@example(base=BASE, target="https://api.example.com/v1/ok")
def test_any_target_is_refused_or_stays_under_the_base(base, target):
    try:
        url = build_upstream_url(base, target)
    except UrlOutsideBase:
        return
    _assert_under(url, base)


@settings(max_examples=200)
@given(target=st.one_of(st.text(max_size=60), URLISH,
                        st.builds("{}://{}".format, st.sampled_from(["http", "https", "ftp"]), URLISH)))
def test_with_allowed_hosts_a_target_goes_under_the_base_or_to_an_allowed_host(target):
    try:
        url = build_upstream_url(BASE, target, allowed_hosts=ALLOWED)
    except UrlOutsideBase:
        return
    if urlsplit(url).hostname == "api.example.com":
        _assert_under(url, BASE)
    else:
        assert _on_an_allowed_host(url)
    assert ".." not in _fully_decoded_segments(urlsplit(url).path)


@settings(max_examples=200)
@given(location=st.one_of(st.text(max_size=60), URLISH))
def test_any_redirect_is_refused_or_stays(location):
    try:
        url = redirect_target(CURRENT, location, BASE)
    except UrlOutsideBase:
        return
    _assert_under(url, BASE)


SAFE_CHARS = st.text(alphabet="abcXYZ0189-_~@:", min_size=1, max_size=8)
# Percent-encoded random bytes, but never '.', '/', '\' or '%' itself (which could
# encode those a second time).
SAFE_BYTES = st.integers(0, 255).filter(lambda b: b not in b"./\\%").map("%{:02X}".format)
SAFE_SEGMENT = st.lists(st.one_of(SAFE_CHARS, SAFE_BYTES), min_size=1, max_size=6).map("".join)


def _looks_like_a_scheme(target: str) -> bool:
    return re.match(r"(?i)(https?|ftp|file|javascript|data|mailto):", target) is not None


@settings(max_examples=300)
@given(base=st.sampled_from(PROPERTY_BASES), segments=st.lists(SAFE_SEGMENT, min_size=1, max_size=6),
       leading_slash=st.booleans(), trailing_slash=st.booleans())
def test_targets_made_of_safe_segments_are_never_refused(base, segments, leading_slash, trailing_slash):
    target = ("/" if leading_slash else "") + "/".join(segments) + ("/" if trailing_slash else "")
    assume(not _looks_like_a_scheme(target))  # documented: `http:x`, `mailto:x` are URLs
    # Multi-byte sequences that NFKC folds to '.', '/' or '\' (full-width forms) are refused.
    assume(not any(c in unicodedata.normalize("NFKC", unquote(s)) for s in segments for c in "./\\"))
    url = build_upstream_url(base, target)
    _assert_under(url, base)
    assert urlsplit(url).path.endswith(target.removeprefix("/"))
