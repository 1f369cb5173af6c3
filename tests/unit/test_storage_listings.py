"""How each storage API lists a folder, page by page (proxy/storage_listings.py)."""

import pytest

from integration_hub.proxy.storage_listings import DRIVERS, Listing, NextPageElsewhere, _under_base

BASE = "https://graph.example.com/v1.0"


@pytest.mark.parametrize("link, expected", [
    (f"{BASE}/me/drive/root/children?$skiptoken=a%3D&$top=999",
     ("me/drive/root/children", {"$skiptoken": "a=", "$top": "999"})),
    (f"{BASE}/sites/x,y/drive/items/1/children", ("sites/x,y/drive/items/1/children", {})),
])
def test_a_next_link_under_the_base_becomes_a_target(link, expected):
    assert _under_base(link, BASE) == expected


@pytest.mark.parametrize("link", [
    "https://other.example.com/v1.0/me/drive/root/children",
    "http://graph.example.com/v1.0/me/drive/root/children",
    "https://graph.example.com:8443/v1.0/me",
    "https://graph.example.com/v1.0",
    "https://graph.example.com/v1.01/me",
    "https://graph.example.com/v2.0/me",
    "https://graph.example.com/v1.0/../admin",
    "https://graph.example.com/v1.0/me/%2e%2e/%2E%2E/admin",
    "https://graph.example.com/v1.0/me#fragment",
    "https://user@graph.example.com/v1.0/me",
    "/v1.0/me/drive/root/children",
])
def test_a_next_link_anywhere_else_is_refused(link):
    with pytest.raises(NextPageElsewhere):
        _under_base(link, BASE)


@pytest.mark.parametrize("kind, document, expected", [
    ("google-drive", {"nextPageToken": "t"}, Listing("files", {"pageToken": "t"})),
    ("google-drive", {"nextPageToken": None}, None),
    ("dropbox", {"has_more": True, "cursor": "c"},
     Listing("files/list_folder/continue", body={"cursor": "c"})),
    ("dropbox", {"has_more": "yes", "cursor": "c"}, None),
    ("dropbox", {"has_more": True}, None),
    ("box", {"next_marker": "m"}, Listing("folders/0/items", {"marker": "m"})),
    ("box", {"next_marker": ""}, None),
    ("onedrive", {}, None),
])
def test_the_next_page(kind, document, expected):
    previous = Listing("folders/0/items" if kind == "box" else "files")
    assert DRIVERS[kind].next_page(document, previous, BASE) == expected


def test_dropbox_lists_by_post_and_box_quotes_its_folder():
    dropbox = DRIVERS["dropbox"].listing(None, {"rootPath": "/Apps/Hub"})
    assert dropbox.method == "POST" and dropbox.body["path"] == "/Apps/Hub"
    assert DRIVERS["dropbox"].listing(None, {"rootPath": 7}).body["path"] == ""
    assert DRIVERS["box"].listing("1/../2", {}).target == "folders/1%2F..%2F2/items"
    assert DRIVERS["box"].listing(None, {"rootFolderId": ["x"]}).target == "folders/0/items"
