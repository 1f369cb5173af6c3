"""Next pages a storage API points at (proxy/storage_listings.py, docs/security.md "Outbound
connections"): what an upstream answers never chooses where the caller's credentials go.

A Microsoft Graph answer names its next page with an absolute URL; the hub follows it only
under the integration's own API base (same scheme, host, port, a path below the base's, no
dot segments), and a folder preview whose storage points elsewhere ends with 502 before a
second call. Box's marker and Google Drive's page token are values of one query parameter,
whatever they hold; Dropbox's cursor goes back as a JSON string.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from tests.api.test_directories import names, preview
from tests.support.problems import assert_problem


@pytest.mark.parametrize("elsewhere", [
    "https://attacker.example/v1.0/me/drive/root/children?$skiptoken=x",
    "{base}/../v2/children?$skiptoken=x",
    "http://127.0.0.1:9/v1.0/me/drive/root/children",
], ids=["other-host", "outside-the-base", "other-port"])
def test_a_next_link_outside_the_api_is_not_followed(client, member, storage, upstream,
                                                     elsewhere):
    onedrive = storage("onedrive", "/v1.0")
    upstream.respond("/v1.0/me/drive/root/children", {"json": {
        "value": [], "@odata.nextLink": elsewhere.format(base=f"{upstream.url}/v1.0")}})

    assert_problem(preview(client, member, onedrive), 502, "directory_listing_failed")
    assert len(upstream.requests()) == 1


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
