"""Walking an upstream listing: first and next page per style, Link headers, items and ids."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration_hub.sync.paging import (
    MAX_ID_LENGTH,
    PageInvalid,
    PageRequest,
    first_page,
    items_of,
    next_link,
    next_page,
    record_id,
    value_at,
)
from integration_hub.sync.settings import Pagination, SyncSettings

PARAMS = {"status": "active"}
URL = "https://api.example.com/v1/contacts"


def sync(**pagination) -> SyncSettings:
    return SyncSettings(model="contacts", path="/contacts", params=PARAMS,
                        pagination=Pagination(**pagination))


def invalid(call, *args) -> str:
    with pytest.raises(PageInvalid) as caught:
        call(*args)
    return str(caught.value)


# -- cursor -------------------------------------------------------------------------------------

CURSOR = sync(style="cursor", cursor_param="after", cursor_path="meta.next")


def test_cursor_first_page_sends_only_the_params():
    assert first_page(CURSOR) == PageRequest("/contacts", {"status": "active"}, 1)
    assert first_page(sync(style="cursor", size_param="limit", size=50)) == \
        PageRequest("/contacts", {"status": "active", "limit": "50"}, 1)


def test_cursor_pages_follow_the_answer():
    page = first_page(CURSOR)
    page = next_page(CURSOR, page, {"meta": {"next": "abc"}}, None, 10)
    assert page == PageRequest("/contacts", {"status": "active", "after": "abc"}, 2)
    page = next_page(CURSOR, page, {"meta": {"next": 42}}, None, 10)
    assert page == PageRequest("/contacts", {"status": "active", "after": "42"}, 3)
    page = next_page(CURSOR, page, {"meta": {"next": 0}}, None, 0)
    assert page == PageRequest("/contacts", {"status": "active", "after": "0"}, 4)
    assert next_page(CURSOR, page, {"meta": {"next": None}}, None, 10) is None


def test_the_default_cursor_path_and_param():
    paging = sync(style="cursor")
    assert next_page(paging, first_page(paging), {"next_cursor": "c2"}, None, 1) == \
        PageRequest("/contacts", {"status": "active", "cursor": "c2"}, 2)


@pytest.mark.parametrize("document", [
    {"meta": {"next": None}}, {"meta": {"next": ""}}, {"meta": {"next": False}}, {"meta": {}}, {},
    {"meta": "x"}, [], None,
])
def test_cursor_listing_ends(document):
    assert next_page(CURSOR, first_page(CURSOR), document, '<x>; rel="next"', 10) is None


@pytest.mark.parametrize("cursor", [True, 1.5, {"a": 1}, ["x"]])
def test_a_cursor_must_be_text_or_a_number(cursor):
    message = invalid(next_page, CURSOR, first_page(CURSOR), {"meta": {"next": cursor}}, None, 1)
    assert message == "the cursor at meta.next is not a string or number"


@pytest.mark.parametrize("current, answered", [("abc", "abc"), ("5", 5)])
def test_the_same_cursor_twice_is_refused(current, answered):
    page = PageRequest("/contacts", {"status": "active", "after": current}, 3)
    message = invalid(next_page, CURSOR, page, {"meta": {"next": answered}}, None, 1)
    assert message == "the upstream answered the same cursor twice"


# -- page numbers -------------------------------------------------------------------------------

@pytest.mark.parametrize("pagination, params", [
    ({}, {"page": "1"}),
    ({"page_param": "p", "first_page": 0}, {"p": "0"}),
    ({"size_param": "per_page", "size": 50}, {"page": "1", "per_page": "50"}),
    ({"size_param": "per_page"}, {"page": "1"}),
    ({"size": 50}, {"page": "1"}),
])
def test_page_first_page(pagination, params):
    assert first_page(sync(style="page", **pagination)) == PageRequest("/contacts", {**PARAMS, **params}, 1)


def test_page_numbers_count_up_and_keep_the_size():
    paging = sync(style="page", page_param="p", first_page=0, size_param="per_page", size=50)
    page = first_page(paging)
    for number in (1, 2, 3):
        page = next_page(paging, page, {"ignored": True}, '<x>; rel="next"', 50)
        assert page == PageRequest("/contacts", {**PARAMS, "p": str(number), "per_page": "50"}, number + 1)


@pytest.mark.parametrize("size, item_count, more", [
    (50, 50, True), (50, 49, False), (50, 0, False), (50, 51, True), (None, 1, True), (None, 0, False),
])
def test_page_listing_ends_on_a_short_or_empty_page(size, item_count, more):
    paging = sync(style="page", size=size)
    following = next_page(paging, first_page(paging), [], None, item_count)
    assert following == (PageRequest("/contacts", {**PARAMS, "page": "2"}, 2) if more else None)


def test_a_page_without_its_number_continues_from_the_first():
    paging = sync(style="page", first_page=5)
    assert next_page(paging, PageRequest("/contacts", {}, 1), [], None, 3) == PageRequest(
        "/contacts", {"page": "6"}, 2)


# -- Link header --------------------------------------------------------------------------------

@pytest.mark.parametrize("header, expected", [
    ('<https://a.example/?page=2>; rel="next", <https://a.example/?page=9>; rel="last"',
     "https://a.example/?page=2"),
    ('<https://a.example/?page=9>; rel="last", <https://a.example/?page=2>; rel="next"',
     "https://a.example/?page=2"),
    ('<u>; rel="next last"', "u"), ('<u>; rel="last next"', "u"), ("<u>; rel=next", "u"),
    ('<u>; REL="NEXT"', "u"), ('<u>; rel="Next"', "u"), ('<u> ; rel = "next"', "u"),
    ('  <u>;rel="next"  ', "u"),
    ('<https://a.example/?ids=1,2,3>; rel="next"', "https://a.example/?ids=1,2,3"),
    ('</p?a=1;b=2>; rel=next', "/p?a=1;b=2"), ("< u >; rel=next", "u"),
    ('<u>; rel="prev"; title="a, b", <v>; rel=next', "v"), ("<u>; rel=next, <v>; rel=prev", "u"),
    ('<u>; rel="next"; title="a;b,c"', "u"), ('<u1>; rel="next", <u2>; rel="next"', "u1"),
    ('<u>; title="next page"; rel="prev"', None), ('<u>; rel="prev"; title="<x>; rel=next"', None),
    ('<u>; rel="nextpage"', None), ('<u>; rel="prev"', None), ('<u>; rel=""', None), ("<u>; rel", None),
    ("<u>; rel=prev; rel=next", None), ("<>; rel=next", None), ("<u>", None), ("garbage", None),
    ("", None), (None, None),
])
def test_next_link(header, expected):
    assert next_link(header) == expected


REL = st.sampled_from(["next", "NEXT", "Next", "prev", "last", "first", "self", "nextpage", "previous"])
TARGET = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="<>"), min_size=1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(TARGET, st.lists(REL, min_size=1, max_size=3), st.booleans()), max_size=5))
def test_next_link_finds_the_first_next(links):
    def link_value(target, rels, quoted):
        rel = f'"{" ".join(rels)}"' if quoted or len(rels) > 1 else rels[0]
        return f"<{target}>; rel={rel}"
    header = ", ".join(link_value(*link) for link in links)
    nexts = [target for target, rels, _ in links if "next" in (rel.lower() for rel in rels)]
    assert next_link(header) == (nexts[0] if nexts else None)


LINK = sync(style="link")


@pytest.mark.parametrize("link, current_url, expected", [
    ("/v1/contacts?page=2", URL, "https://api.example.com/v1/contacts?page=2"),
    ("?page=3", URL + "?page=2", "https://api.example.com/v1/contacts?page=3"),
    ("page3", URL, "https://api.example.com/v1/page3"),
    ("https://api.example.com/v1/contacts?cursor=x", URL, "https://api.example.com/v1/contacts?cursor=x"),
    ("https://other.example.com/x", URL, "https://other.example.com/x"),
    ("/contacts?page=2", "", "/contacts?page=2"),
])
def test_link_pages_resolve_against_the_current_url(link, current_url, expected):
    following = next_page(LINK, first_page(LINK), {"next_cursor": "x"}, f'<{link}>; rel="next"', 10,
                          current_url)
    assert following == PageRequest(expected, {}, 2)


def test_link_pages_count_up():
    page = PageRequest("https://api.example.com/v1/contacts?page=2", {}, 2)
    following = next_page(LINK, page, None, '<?page=3>; rel="next"', 10, page.target)
    assert following == PageRequest("https://api.example.com/v1/contacts?page=3", {}, 3)


@pytest.mark.parametrize("link, current, current_url", [
    (URL + "?page=2", "/contacts?page=2", URL + "?page=2"),
    ("?page=2", "/contacts?page=2", URL + "?page=2"),
    ("/contacts", "/contacts", ""),
    (URL, URL, URL),
])
def test_a_link_to_the_same_page_is_refused(link, current, current_url):
    message = invalid(next_page, LINK, PageRequest(current, {}, 2), None, f"<{link}>; rel=next", 10,
                      current_url)
    assert message == "the Link header points at the same page again"


@pytest.mark.parametrize("header", [None, "", '<u>; rel="prev"'])
def test_link_listing_ends_without_a_next_link(header):
    assert next_page(LINK, first_page(LINK), {"next_cursor": "x"}, header, 10, URL) is None


# -- no pagination ------------------------------------------------------------------------------

def test_no_pagination_is_a_single_page():
    single = sync()
    assert first_page(single) == PageRequest("/contacts", {"status": "active"}, 1)
    assert next_page(single, first_page(single), {"next_cursor": "x"}, '<u>; rel="next"', 10, URL) is None


# -- documents ----------------------------------------------------------------------------------

DOCUMENT = {"data": {"items": [{"id": 1}, {"id": 2}], "n": 0, "none": None, "0": "key"},
            "list": [[1, 2], [3]]}


@pytest.mark.parametrize("path, expected", [
    ("data.items.1.id", 2), ("data.items.0", {"id": 1}), ("list.0.1", 2), ("list.1.0", 3),
    ("data.n", 0), ("data.0", "key"), ("data.none", None),
    ("data.items.2", None), ("data.items.-1", None), ("data.items.x", None), ("data.items.²", None),
    ("data.missing", None), ("data.n.x", None), ("missing.deeper", None), ("data.", None),
    ("", DOCUMENT), (None, DOCUMENT),
])
def test_value_at(path, expected):
    assert value_at(DOCUMENT, path) == expected


def test_value_at_a_root_array_and_a_scalar():
    assert value_at([{"a": 1}], "0.a") == 1
    assert value_at("text", "0") is None
    assert value_at(None, "a") is None


@pytest.mark.parametrize("document, path, expected", [
    ({"data": [{"id": 1}, {"id": 2}]}, "data", [{"id": 1}, {"id": 2}]),
    ([{"id": 1}], None, [{"id": 1}]), ([{"id": 1}], "", [{"id": 1}]), ([], None, []),
    ({"a": {"b": []}}, "a.b", []),
])
def test_items_of(document, path, expected):
    assert items_of(document, path) == expected


@pytest.mark.parametrize("document, path, message", [
    ({"data": {"id": 1}}, "data", "expected an array of items at data"),
    ({"other": []}, "data", "expected an array of items at data"),
    ({"data": [{"id": 1}]}, None, "expected an array of items as the answer"),
    (None, None, "expected an array of items as the answer"),
    ({"data": [{"id": 1}, 2]}, "data", "item 1 at data is not an object"),
    ([[{"id": 1}]], "", "item 0 as the answer is not an object"),
    ([{"id": 1}, None], None, "item 1 as the answer is not an object"),
])
def test_items_of_refuses(document, path, message):
    assert invalid(items_of, document, path) == message


@pytest.mark.parametrize("item, id_field, expected", [
    ({"id": "a"}, "id", "a"), ({"id": 7}, "id", "7"), ({"id": 0}, "id", "0"), ({"id": -1}, "id", "-1"),
    ({"meta": {"key": "x-1"}}, "meta.key", "x-1"), ({"ids": [9]}, "ids.0", "9"),
    ({"id": "a" * MAX_ID_LENGTH}, "id", "a" * MAX_ID_LENGTH),
])
def test_record_id(item, id_field, expected):
    assert record_id(item, id_field) == expected


NO_ID = "an item has no usable id at id (a string or integer)"


@pytest.mark.parametrize("item, message", [
    ({"id": True}, NO_ID), ({"id": False}, NO_ID), ({"id": 1.5}, NO_ID), ({"id": 1.0}, NO_ID),
    ({"id": None}, NO_ID), ({"id": ""}, NO_ID), ({"id": {}}, NO_ID), ({"id": ["a"]}, NO_ID), ({}, NO_ID),
    ({"id": "a" * (MAX_ID_LENGTH + 1)}, f"an item id is longer than {MAX_ID_LENGTH} characters"),
    ({"id": 10 ** MAX_ID_LENGTH}, f"an item id is longer than {MAX_ID_LENGTH} characters"),
])
def test_record_id_refuses(item, message):
    assert invalid(record_id, item, "id") == message


def test_record_id_names_a_dotted_field():
    assert invalid(record_id, {"meta": {}}, "meta.key") == \
        "an item has no usable id at meta.key (a string or integer)"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=1) | st.integers(), unique_by=str, max_size=20))
def test_a_cursor_walk_visits_every_cursor_once(cursors):
    page, seen = first_page(CURSOR), []
    for cursor in [*cursors, None]:
        following = next_page(CURSOR, page, {"meta": {"next": cursor}}, None, 1)
        if following is None:
            break
        assert following.number == page.number + 1 and following.params["status"] == "active"
        seen.append(following.params["after"])
        page = following
    assert seen == [str(cursor) for cursor in cursors]
