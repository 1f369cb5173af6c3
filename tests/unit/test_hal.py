"""Table-driven tests for the pure HAL helpers in integration_hub.hal."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, parse_qsl, unquote, urljoin, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration_hub.hal import documents as hal

PATH = "/api/users"


def split(href: str) -> tuple[str, dict[str, list[str]]]:
    """Path and parsed query of an href."""
    parts = urlsplit(href)
    return parts.path, parse_qs(parts.query, keep_blank_values=True)


def start_of(links: dict, rel: str) -> int:
    _, query = split(links[rel]["href"])
    return int(query["start"][0])


def limit_of(links: dict, rel: str) -> int:
    _, query = split(links[rel]["href"])
    return int(query["limit"][0])


# --- page_links: which rels exist and where they point -----------------------------------------

PAGE_CASES = [
    # id, start, limit, total, expected {rel: start} (rels not listed must be absent)
    pytest.param(0, 50, 0, {"self": 0, "first": 0, "last": 0}, id="empty-collection"),
    pytest.param(0, 50, 50, {"self": 0, "first": 0, "last": 0}, id="exactly-one-full-page"),
    pytest.param(0, 50, 1, {"self": 0, "first": 0, "last": 0}, id="single-item"),
    pytest.param(0, 50, 100, {"self": 0, "first": 0, "next": 50, "last": 50},
                 id="first-of-two-full-pages"),
    pytest.param(50, 50, 100, {"self": 50, "first": 0, "prev": 0, "last": 50},
                 id="last-page-exact-multiple"),
    pytest.param(50, 50, 200, {"self": 50, "first": 0, "prev": 0, "next": 100, "last": 150},
                 id="middle-page"),
    pytest.param(100, 50, 101, {"self": 100, "first": 0, "prev": 50, "last": 100},
                 id="partial-last-page"),
    pytest.param(0, 50, 101, {"self": 0, "first": 0, "next": 50, "last": 100},
                 id="first-page-with-partial-last"),
    pytest.param(500, 5, 10, {"self": 500, "first": 0, "prev": 5, "last": 5},
                 id="start-beyond-end"),
    pytest.param(10, 5, 0, {"self": 10, "first": 0, "prev": 0, "last": 0},
                 id="start-beyond-empty-collection"),
    pytest.param(3, 5, 20, {"self": 3, "first": 0, "prev": 0, "next": 8, "last": 15},
                 id="unaligned-start-prev-clamped-to-zero"),
    pytest.param(7, 5, 20, {"self": 7, "first": 0, "prev": 2, "next": 12, "last": 15},
                 id="unaligned-start-prev-one-page-back"),
    pytest.param(9, 10, 10, {"self": 9, "first": 0, "prev": 0, "last": 0},
                 id="start-inside-only-page"),
]


@pytest.mark.parametrize(("start", "limit", "total", "expected"), PAGE_CASES)
def test_page_links_rels_and_starts(start, limit, total, expected):
    links = hal.page_links(PATH, {}, start, limit, total)

    assert set(links) == set(expected)
    assert {rel: start_of(links, rel) for rel in links} == expected
    for rel, value in links.items():
        path, query = split(value["href"])
        assert path == PATH, rel
        assert query["limit"] == [str(limit)], rel
        assert "templated" not in value, rel


def test_page_links_order_of_rels():
    links = hal.page_links(PATH, {}, 50, 50, 200)
    assert list(links) == ["self", "first", "prev", "next", "last"]


@pytest.mark.parametrize(
    ("query", "expected_pairs"),
    [
        pytest.param({"q": "ann", "enabled": "yes"}, [("q", "ann"), ("enabled", "yes")],
                     id="filters-kept-in-order"),
        pytest.param({"enabled": "yes", "q": "ann"}, [("enabled", "yes"), ("q", "ann")],
                     id="filters-kept-in-order-reversed"),
        pytest.param({"start": "999", "q": "ann", "limit": "3"}, [("q", "ann")],
                     id="start-and-limit-from-query-replaced"),
        pytest.param({"q": None, "tenant": "acme"}, [("tenant", "acme")],
                     id="none-filter-dropped"),
        pytest.param({"enabled": True, "superuser": False},
                     [("enabled", "true"), ("superuser", "false")], id="booleans-lowercase"),
        pytest.param({"tag": ["a", "b"]}, [("tag", "a"), ("tag", "b")], id="list-filter-repeated"),
        pytest.param({"q": "a b&c=d"}, [("q", "a b&c=d")], id="reserved-characters-encoded"),
    ],
)
def test_page_links_keep_filters_on_every_link(query, expected_pairs):
    links = hal.page_links(PATH, query, 50, 50, 200)
    assert set(links) == {"self", "first", "prev", "next", "last"}
    expected_starts = {"self": 50, "first": 0, "prev": 0, "next": 100, "last": 150}

    for rel, value in links.items():
        parts = urlsplit(value["href"])
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        assert parts.path == PATH
        assert pairs == [*expected_pairs, ("start", str(expected_starts[rel])), ("limit", "50")], rel


def test_page_links_does_not_mutate_query():
    query = {"q": "ann", "start": "7", "limit": "2"}
    hal.page_links(PATH, query, 0, 10, 30)
    assert query == {"q": "ann", "start": "7", "limit": "2"}


@pytest.mark.parametrize(
    ("start", "limit", "message"),
    [
        pytest.param(0, 0, "limit", id="zero-limit"),
        pytest.param(0, -5, "limit", id="negative-limit"),
        pytest.param(-1, 10, "start", id="negative-start"),
    ],
)
def test_page_links_rejects_invalid_window(start, limit, message):
    with pytest.raises(ValueError, match=message):
        hal.page_links(PATH, {}, start, limit, 10)


@given(
    start=st.integers(min_value=0, max_value=2_000),
    limit=st.integers(min_value=1, max_value=200),
    total=st.integers(min_value=0, max_value=2_000),
)
def test_page_links_invariants(start, limit, total):
    links = hal.page_links(PATH, {"q": "x"}, start, limit, total)

    assert start_of(links, "self") == start
    assert start_of(links, "first") == 0
    last = start_of(links, "last")
    assert last % limit == 0
    assert 0 <= last <= max(total - 1, 0)
    assert last + limit >= total  # the last page reaches the end

    if start + limit < total:
        assert start_of(links, "next") == start + limit
        assert start_of(links, "next") < total
    else:
        assert "next" not in links

    if start > 0:
        prev = start_of(links, "prev")
        assert 0 <= prev < start
        assert prev <= last
    else:
        assert "prev" not in links

    for rel in links:
        assert limit_of(links, rel) == limit
        assert split(links[rel]["href"])[1]["q"] == ["x"]


# --- link ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("href", "templated"),
    [
        ("/api/rels/{rel}", True),
        ("/x{?q,limit}", True),
        ("/a/{+path}", True),
        ("/a/{/p*}", True),
        ("/a{#frag}", True),
        ("/api/users", False),
        ("/api/users?x=1", False),
        ("/api/users?start=0&limit=50", False),
        ("", False),
    ],
)
def test_link_templated_exactly_for_uri_templates(href, templated):
    result = hal.link(href)
    assert result["href"] == href
    if templated:
        assert result["templated"] is True
    else:
        assert "templated" not in result
    assert hal.is_uri_template(href) is templated


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        pytest.param({}, {"href": "/u"}, id="no-attributes"),
        pytest.param({"title": "Users"}, {"href": "/u", "title": "Users"}, id="title"),
        pytest.param({"title": None, "name": "inf"}, {"href": "/u", "name": "inf"},
                     id="none-dropped"),
        pytest.param({"title": "", "deprecation": None}, {"href": "/u", "title": ""},
                     id="empty-string-kept"),
    ],
)
def test_link_attributes(attributes, expected):
    assert hal.link("/u", **attributes) == expected


def test_curies_names_the_prefix_and_is_templated():
    assert hal.curies("/api/rels/{rel}") == [
        {"href": "/api/rels/{rel}", "templated": True, "name": hal.CURIE_PREFIX}]


# --- resource ------------------------------------------------------------------------------------

SELF = {"self": {"href": "/api/users/1"}}


def test_resource_links_first_then_state():
    document = hal.resource({"id": "1", "name": "Ann"}, SELF)
    assert list(document) == ["_links", "id", "name"]
    assert document["_links"] == SELF
    assert "_embedded" not in document


def test_resource_requires_self_link():
    with pytest.raises(ValueError, match="self"):
        hal.resource({"id": "1"}, {"next": {"href": "/x"}})


@pytest.mark.parametrize(
    ("embedded", "expected"),
    [
        pytest.param(None, None, id="none"),
        pytest.param({"inf:users": []}, {"inf:users": []}, id="empty-array-kept"),
        pytest.param({"inf:users": [{"id": "1"}]}, {"inf:users": [{"id": "1"}]}, id="items"),
    ],
)
def test_resource_embedded(embedded, expected):
    document = hal.resource({"id": "1"}, SELF, embedded)
    if expected is None:
        assert "_embedded" not in document
    else:
        assert document["_embedded"] == expected
        assert list(document)[-1] == "_embedded"
        assert list(document)[0] == "_links"


def test_resource_copies_links():
    links = dict(SELF)
    document = hal.resource({}, links)
    document["_links"]["extra"] = {"href": "/e"}
    assert "extra" not in links


# --- page ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("items", "start", "limit", "total", "rels"),
    [
        pytest.param([], 0, 10, 0, {"self", "first", "last"}, id="empty"),
        pytest.param([{"id": "a"}, {"id": "b"}], 0, 2, 5, {"self", "first", "next", "last"},
                     id="first-page"),
        pytest.param(({"id": "e"},), 4, 2, 5, {"self", "first", "prev", "last"},
                     id="tuple-of-items-last-page"),
    ],
)
def test_page_body(items, start, limit, total, rels):
    document = hal.page(PATH, {"q": "x"}, "inf:users", items, start, limit, total)

    assert list(document)[0] == "_links"
    assert document["start"] == start
    assert document["count"] == len(items)
    assert document["total"] == total
    assert isinstance(document["_embedded"]["inf:users"], list)
    assert document["_embedded"]["inf:users"] == list(items)
    assert set(document["_links"]) == rels
    assert split(document["_links"]["self"]["href"])[1]["q"] == ["x"]


def test_page_extra_links_added():
    extra = {"inf:search": hal.link("/api/users{?q}")}
    document = hal.page(PATH, {}, "inf:users", [], 0, 10, 0, extra_links=extra)
    assert document["_links"]["inf:search"] == {"href": "/api/users{?q}", "templated": True}
    assert "self" in document["_links"]


# --- with_query ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param({}, PATH, id="no-params"),
        pytest.param({"q": None}, PATH, id="only-none"),
        pytest.param({"q": "ann"}, f"{PATH}?q=ann", id="single"),
        pytest.param({"b": "2", "a": "1"}, f"{PATH}?b=2&a=1", id="order-kept"),
        pytest.param({"tag": ["x", "y"]}, f"{PATH}?tag=x&tag=y", id="list-repeats"),
        pytest.param({"tag": ("x", "y"), "q": None}, f"{PATH}?tag=x&tag=y", id="tuple-repeats"),
        pytest.param({"tag": []}, PATH, id="empty-list"),
        pytest.param({"on": True, "off": False}, f"{PATH}?on=true&off=false", id="booleans"),
        pytest.param({"n": 0}, f"{PATH}?n=0", id="zero-kept"),
        pytest.param({"q": ""}, f"{PATH}?q=", id="empty-string-kept"),
    ],
)
def test_with_query(query, expected):
    assert hal.with_query(PATH, query) == expected


def test_with_query_encodes_values():
    href = hal.with_query(PATH, {"q": "a b&c=d/é"})
    assert parse_qsl(urlsplit(href).query) == [("q", "a b&c=d/é")]
    assert " " not in href and "&c=" not in href


# Values mix characters urlencode must escape with plain and non-ASCII ones.
VALUE_TEXT = st.text(alphabet="abcXYZ09 &=?/#%+;,é€😀", min_size=1, max_size=10)


@given(st.dictionaries(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8),
    st.one_of(st.none(), st.booleans(), st.integers(), VALUE_TEXT,
              st.lists(VALUE_TEXT, max_size=3)),
    max_size=5,
))
def test_with_query_round_trips(query):
    href = hal.with_query(PATH, query)
    parts = urlsplit(href)
    assert parts.path == PATH

    expected = []
    for name, value in query.items():
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for v in values:
            expected.append((name, ("true" if v else "false") if isinstance(v, bool) else str(v)))
    assert parse_qsl(parts.query, keep_blank_values=True) == expected
    if not expected:
        assert href == PATH


# -- path segments built from data (docs/security.md, "Links built from data") -----------------

UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
COLLECTION = "http://hub.example/api/integrations/i/records/m/"


@pytest.mark.parametrize(("value", "segment"), [
    ("r1", "r1"),
    ("v1.2_x-y~z", "v1.2_x-y~z"),
    ("a/b", "a%2Fb"),
    ("../../../../tokens", "..%2F..%2F..%2F..%2Ftokens"),
    (".", "%2E"),
    ("..", "%2E%2E"),
    ("...", "%2E%2E%2E"),
    ("%2e%2e", "%252e%252e"),
    ("100%", "100%25"),
    ("?x#y", "%3Fx%23y"),
    ("a;b=c,d", "a%3Bb%3Dc%2Cd"),
    ("team:core", "team%3Acore"),
    ("a@b+c", "a%40b%2Bc"),
    ("with space", "with%20space"),
    ("tab\tnl\n", "tab%09nl%0A"),
    ("ünï/東京", "%C3%BCn%C3%AF%2F%E6%9D%B1%E4%BA%AC"),
    ("\\..\\", "%5C..%5C"),
])
def test_path_segment_table(value, segment):
    assert hal.path_segment(value) == segment


@given(st.text(min_size=1))
def test_path_segment_is_one_unreserved_segment_that_decodes_back(value):
    segment = hal.path_segment(value)
    assert unquote(segment, errors="strict") == value
    assert set(segment) <= UNRESERVED | {"%"}
    assert all(re.fullmatch(r"[0-9A-F]{2}", piece[:2]) for piece in segment.split("%")[1:])
    assert segment.strip(".") != ""  # never a dot-segment, however many dots


@given(st.text(min_size=1))
def test_a_resolver_keeps_a_path_segment_where_it_is_put(value):
    segment = hal.path_segment(value)
    resolved = urlsplit(urljoin(COLLECTION, segment))
    assert resolved.path == urlsplit(COLLECTION).path + segment
    assert (resolved.query, resolved.fragment) == ("", "")


@given(st.lists(st.sampled_from(["..", ".", "/", "%", "a", "2e", "?", "#", "\\"]), min_size=1,
                max_size=12).map("".join))
def test_dots_and_slashes_in_any_order_stay_in_their_segment(value):
    segment = hal.path_segment(value)
    assert urlsplit(urljoin(COLLECTION, segment)).path == urlsplit(COLLECTION).path + segment
    assert unquote(segment) == value
