"""How each storage API lists a folder, page by page (proxy/storage_listings.py)."""

import pytest

from integration_hub.proxy.storage_listings import DRIVERS, Listing, ListingInvalid

BASE = "https://graph.example.com/v1.0"


@pytest.mark.parametrize("link", [
    f"{BASE}/me/drive/root/children?$skiptoken=a%3D&$top=999&$x=1&$x=2",
    "https://elsewhere.example/x?y=1",  # whether it may be called: the URL guard's decision
    f"{BASE}/me/%252e%252e/x",
])
def test_a_next_link_is_handed_on_as_given(link):
    listing = DRIVERS["onedrive"].next_page({"@odata.nextLink": link}, Listing("x"))
    assert listing == Listing(link) and listing.method == "GET"


@pytest.mark.parametrize("link", ["/v1.0/me/drive/root/children", "javascript:alert(1)",
                                  "ftp://graph.example.com/v1.0/me", "me/drive"])
def test_a_next_link_that_is_no_http_url_is_invalid(link):
    with pytest.raises(ListingInvalid):
        DRIVERS["sharepoint"].next_page({"@odata.nextLink": link}, Listing("x"))


@pytest.mark.parametrize("kind, document, expected", [
    ("google-drive", {"nextPageToken": "t"}, Listing("files", {"pageToken": "t"})),
    ("google-drive", {"nextPageToken": None}, None),
    ("google-drive", {"nextPageToken": 7}, None),
    ("dropbox", {"has_more": True, "cursor": "c"},
     Listing("files/list_folder/continue", body={"cursor": "c"})),
    ("dropbox", {"has_more": "yes", "cursor": "c"}, None),
    ("dropbox", {"has_more": True}, None),
    ("box", {"next_marker": "m"}, Listing("folders/0/items", {"marker": "m"})),
    ("box", {"next_marker": ""}, None),
    ("onedrive", {}, None),
    ("onedrive", {"@odata.nextLink": ""}, None),
])
def test_the_next_page(kind, document, expected):
    previous = Listing("folders/0/items" if kind == "box" else "files")
    assert DRIVERS[kind].next_page(document, previous) == expected


def test_the_same_page_has_the_same_key():
    first = Listing("files", {"q": "x", "pageToken": "t"})
    assert first.key == Listing("files", {"pageToken": "t", "q": "x"}).key
    assert first.key != Listing("files", {"q": "x", "pageToken": "u"}).key
    cursor = Listing("files/list_folder/continue", body={"cursor": "c"})
    assert cursor.key == Listing("files/list_folder/continue", body={"cursor": "c"}).key
    assert cursor.key != Listing("files/list_folder/continue", body={"cursor": "d"}).key


@pytest.mark.parametrize("kind, document", [
    ("google-drive", {"files": [{"id": "1", "name": None}]}),
    ("google-drive", {"files": [{"id": {"a": 1}, "name": "x"}]}),
    ("google-drive", {"files": "nope"}),
    ("onedrive", {"value": [{"id": "1", "name": 3, "folder": {}}]}),
    ("onedrive", {"value": [7]}),
    ("dropbox", {"entries": [{".tag": "folder", "id": "", "name": "x"}]}),
    ("box", {"entries": [{"type": "folder", "id": False, "name": "x"}]}),
    ("box", {"entries": {"type": "folder"}}),
])
def test_folders_without_a_text_id_or_name_are_invalid(kind, document):
    with pytest.raises(ListingInvalid):
        DRIVERS[kind].folders(document)


def test_a_folder_that_is_not_a_folder_is_not_checked():
    assert DRIVERS["box"].folders({"entries": [{"type": "file", "id": None}]}) == []
    assert DRIVERS["box"].folders({"entries": [{"type": "folder", "id": 9, "name": "n"}]}) == [
        {"id": "9", "name": "n", "mimeType": "inode/directory"}]


@pytest.mark.parametrize("kind, data, target", [
    ("onedrive", {}, "me/drive/root/children"),
    ("onedrive", {"driveId": "b!x/1"}, "drives/b%21x%2F1/root/children"),
    ("onedrive", {"driveId": ""}, "me/drive/root/children"),
    ("sharepoint", {}, "sites/root/drive/root/children"),
    ("sharepoint", {"siteId": "h,1,2"}, "sites/h,1,2/drive/root/children"),
    ("sharepoint", {"siteId": "h,1,2", "driveId": "d"}, "drives/d/root/children"),
])
def test_graph_drives(kind, data, target):
    assert DRIVERS[kind].listing(None, data).target == target


@pytest.mark.parametrize("root, folder_id, path", [
    ("/", None, ""), ("/Apps/Hub/", None, "/Apps/Hub"), ("//", None, ""), ("", None, ""),
    ("/Apps", "/Apps/Hub/x/", "/Apps/Hub/x"), ("/Apps", "id:abc", "id:abc"),
])
def test_dropbox_paths_have_no_trailing_slash(root, folder_id, path):
    assert DRIVERS["dropbox"].listing(folder_id, {"rootPath": root}).body["path"] == path


def test_dropbox_lists_by_post_and_box_quotes_its_folder():
    dropbox = DRIVERS["dropbox"].listing(None, {"rootPath": "/Apps/Hub"})
    assert dropbox.method == "POST" and dropbox.body["path"] == "/Apps/Hub"
    assert DRIVERS["dropbox"].listing(None, {"rootPath": 7}).body["path"] == ""
    assert DRIVERS["box"].listing("1/../2", {}).target == "folders/1%2F..%2F2/items"
    assert DRIVERS["box"].listing(None, {"rootFolderId": ["x"]}).target == "folders/0/items"
