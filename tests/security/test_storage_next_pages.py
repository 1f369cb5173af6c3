"""Next pages a storage API points at (proxy/storage_listings.py, docs/security.md "Outbound
connections"): what an upstream answers never chooses where the caller's credentials go.

A Microsoft Graph answer names its next page with an absolute URL, handed as it is to the
proxy's URL guard: under the integration's API base it is called as given (its query byte for
byte) with the credentials; on an allowed host without them; anywhere else (another host or
port, dot segments however encoded, backslashes, spaces) it is refused before a second call,
and the preview ends with 502: the storage's fault, not the caller's. Box's marker and Google
Drive's page token are values of one query parameter, whatever they hold; Dropbox's cursor
goes back as a JSON string. A token answered a second time ends the preview with 502, not in
a loop.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from tests.api.test_directories import names, preview
from tests.conftest import STORAGE_TOKEN as TOKEN
from tests.support.problems import assert_problem


@pytest.mark.parametrize("elsewhere", [
    "https://attacker.example/v1.0/me/drive/root/children?$skiptoken=x",
    "{base}/../v2/children?$skiptoken=x",
    "http://127.0.0.1:9/v1.0/me/drive/root/children",
    "http://localhost:{port}/v1.0/me/drive/root/children",
    "{base}/me/%252e%252e/%252e%252e/x",
    "{base}/me/..;x/children",
    "{base}/me\\..\\x",
    "{base}/me/a b/children",
    "{base}/me/%2e%2e/admin",
    "javascript:alert(1)",
    "/v1.0/me/drive/root/children",
], ids=["other-host", "outside-the-base", "other-port", "same-server-other-name",
        "double-encoded-dots", "dots-with-param", "backslash", "space", "encoded-dots",
        "javascript", "relative"])
def test_a_next_link_outside_the_api_is_not_followed(client, member, storage, upstream,
                                                     elsewhere):
    onedrive = storage("onedrive", "/v1.0")
    upstream.respond("/v1.0/me/drive/root/children", {"json": {
        "value": [], "@odata.nextLink": elsewhere.format(base=f"{upstream.url}/v1.0",
                                                         port=upstream.port)}})

    body = assert_problem(preview(client, member, onedrive), 502, "directory_listing_failed")
    assert TOKEN not in str(body)
    assert len(upstream.requests()) == 1  # nothing more was sent, the token least of all


def test_a_next_link_is_called_as_given(client, member, storage, upstream):
    onedrive = storage("onedrive", "/v1.0")
    query = "$skiptoken=a%2Bb%3D%3D&$top=999&$x=1&$x=2&opaque=%7E"
    upstream.respond("/v1.0/me/drive/root/children", {"json": {
        "value": [], "@odata.nextLink": f"{upstream.url}/v1.0/me/drive/root/children?{query}"}},
        {"json": {"value": []}})

    assert names(preview(client, member, onedrive)) == []
    second = upstream.requests()[1]
    assert second.query == query
    assert second.header("Authorization") == f"Bearer {TOKEN}"


def test_a_next_link_on_an_allowed_host_gets_no_credentials(client, member, storage,
                                                            upstream):
    # The same server under another name: an allowed host, not a credential origin.
    onedrive = storage("onedrive", "/v1.0", allowedHosts=[f"localhost:{upstream.port}"])
    upstream.respond("/v1.0/me/drive/root/children", {"json": {
        "value": [], "@odata.nextLink": f"http://localhost:{upstream.port}/elsewhere?p=2"}})
    upstream.respond("/elsewhere", {"json": {"value": []}})

    assert names(preview(client, member, onedrive)) == []
    first, second = upstream.requests()
    assert first.header("Authorization") == f"Bearer {TOKEN}"
    assert second.path == "/elsewhere" and second.header("Authorization") is None
    assert TOKEN not in second.raw_target


def test_a_redirect_elsewhere_is_the_storages_fault(client, member, storage, upstream):
    drive = storage("google-drive", "/drive/v3")
    upstream.respond("/drive/v3/files", {"redirect": "https://attacker.example/files"})

    assert_problem(preview(client, member, drive), 502, "directory_listing_failed")
    assert len(upstream.requests()) == 1


@pytest.mark.parametrize("kind, base, path, pages", [
    ("google-drive", "/drive/v3", "/drive/v3/files",
     [{"files": [], "nextPageToken": "t1"}, {"files": [], "nextPageToken": "t1"}]),
    ("box", "/2.0", "/2.0/folders/0/items",
     [{"entries": [], "next_marker": "a"}, {"entries": [], "next_marker": "b"},
      {"entries": [], "next_marker": "a"}]),
    ("dropbox", "/2", "/2/files/list_folder",
     [{"entries": [], "cursor": "c", "has_more": True},
      {"entries": [], "cursor": "c", "has_more": True}]),
    ("onedrive", "/v1.0", "/v1.0/me/drive/root/children",
     [{"value": [], "@odata.nextLink": "{url}/v1.0/me/drive/root/children?$skiptoken=s"},
      {"value": [], "@odata.nextLink": "{url}/v1.0/me/drive/root/children?$skiptoken=s"}]),
], ids=["drive", "box", "dropbox", "graph"])
def test_a_token_answered_twice_ends_the_preview(client, member, storage, upstream, kind,
                                                 base, path, pages):
    integration = storage(kind, base)
    upstream.respond(path + "*", *({"json": {
        key: value.format(url=upstream.url) if isinstance(value, str) else value
        for key, value in page.items()}} for page in pages), sticky=True)

    answer = preview(client, member, integration)

    assert_problem(answer, 502, "directory_listing_failed")
    assert len(upstream.requests()) == len(pages)


def test_a_marker_is_one_query_value_whatever_it_holds(client, member, storage, upstream):
    box = storage("box", "/2.0")
    marker = "a&fields=secret#x y/../z"
    upstream.respond("/2.0/folders/0/items", {"json": {"entries": [], "next_marker": marker}},
                     {"json": {"entries": []}})

    assert names(preview(client, member, box)) == []
    second = parse_qs(upstream.requests()[1].query)
    assert second["marker"] == [marker]
    assert second["fields"] == ["id,type,name"]
    assert upstream.requests()[1].path == "/2.0/folders/0/items"


def test_a_cursor_goes_back_as_a_json_string(client, member, storage, upstream):
    dropbox = storage("dropbox", "/2")
    cursor = '", "path": "/other", "x": "'
    upstream.respond("/2/files/list_folder", {"json": {"entries": [], "cursor": cursor,
                                                       "has_more": True}})
    upstream.respond("/2/files/list_folder/continue", {"json": {"entries": [],
                                                                "has_more": False}})

    assert names(preview(client, member, dropbox)) == []
    assert upstream.requests()[1].json() == {"cursor": cursor}


@pytest.mark.parametrize("next_page", [
    {"nextPageToken": 7}, {"nextPageToken": ["x"]}, {"nextPageToken": ""},
], ids=["number", "list", "empty"])
def test_a_page_token_that_is_no_text_ends_the_listing(client, member, storage, upstream,
                                                       next_page):
    drive = storage("google-drive", "/drive/v3")
    upstream.respond("/drive/v3/files", {"json": {"files": [], **next_page}})

    answer = preview(client, member, drive)

    assert answer.status_code == 200 and answer.get_json()["truncated"] is False
    assert len(upstream.requests()) == 1
