"""Folder previews of storage integrations, through the proxy to the recording upstream
standing in for Google Drive, OneDrive, SharePoint, Dropbox and Box: each API's own list
shape and paging (proxy/storage_listings.py)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

import pytest

from integration_hub.proxy import directories
from tests.conftest import STORAGE_TOKEN as TOKEN
from tests.support.problems import assert_problem

FOLDER = "application/vnd.google-apps.folder"


def preview(client, caller, integration, **body):
    return client.post(f"/api/integrations/{integration}/directories/preview",
                       headers=caller.headers, json=body)


def test_google_drive_root_folders_by_name_with_paths(client, member, storage, upstream):
    drive = storage("google-drive", "/drive/v3")
    upstream.respond("/drive/v3/files", {"json": {"files": [
        {"id": "f2", "name": "Zeta", "mimeType": FOLDER},
        {"id": "f1", "name": "alpha", "mimeType": FOLDER},
        {"id": "d1", "name": "notes.txt", "mimeType": "text/plain"}]}})

    answer = preview(client, member, drive)

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"directories": [
        {"id": "f1", "name": "alpha", "path": "/alpha", "mimeType": FOLDER},
        {"id": "f2", "name": "Zeta", "path": "/Zeta", "mimeType": FOLDER}], "truncated": False}
    (sent,) = upstream.requests()
    query = parse_qs(sent.query)
    assert query["q"] == [f"'root' in parents and mimeType = '{FOLDER}' and trashed = false"]
    assert sent.header("Authorization") == f"Bearer {TOKEN}"


def test_google_drive_subfolder_ids_are_quoted_and_paths_nested(client, member, storage, upstream):
    drive = storage("google-drive", "/drive/v3")
    upstream.respond("/drive/v3/files", {"json": {"files": [
        {"id": "x1", "name": "2026", "mimeType": FOLDER}]}})

    answer = preview(client, member, drive, folderId="it's", path="/Team/Docs/")

    assert answer.get_json()["directories"] == [
        {"id": "x1", "name": "2026", "path": "/Team/Docs/2026", "mimeType": FOLDER}]
    assert parse_qs(upstream.requests()[0].query)["q"][0].startswith("'it\\'s' in parents")


def test_onedrive_children_keep_only_folders(client, member, storage, upstream):
    onedrive = storage("onedrive", "/v1.0")
    upstream.respond("/v1.0/me/drive/items/ITEM%2F7/children", {"json": {"value": [
        {"id": "a", "name": "Reports", "folder": {"childCount": 2}},
        {"id": "b", "name": "budget.xlsx", "file": {}}]}})

    answer = preview(client, member, onedrive, folderId="ITEM/7", path="/Finance")

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["directories"] == [
        {"id": "a", "name": "Reports", "path": "/Finance/Reports", "mimeType": "inode/directory"}]
    assert upstream.requests()[0].path == "/v1.0/me/drive/items/ITEM%2F7/children"


def test_onedrive_root(client, member, storage, upstream):
    onedrive = storage("onedrive", "/v1.0")
    upstream.respond("/v1.0/me/drive/root/children", {"json": {"value": []}})
    assert preview(client, member, onedrive).get_json() == {"directories": [],
                                                             "truncated": False}


@pytest.mark.parametrize("behaviour", [
    {"status": 404, "json": {"error": "not found"}},
    {"body": "<html>", "headers": [("Content-Type", "text/html")]},
    {"json": ["not", "an", "object"]},
    {"json": {"files": "nope"}},
])
def test_an_unusable_answer_is_502(client, member, storage, upstream, behaviour):
    drive = storage("google-drive", "/drive/v3")
    upstream.respond("/drive/v3/files", behaviour)
    assert_problem(preview(client, member, drive), 502, "directory_listing_failed")


def test_storage_integrations_link_their_preview(client, member, storage, make_integration):
    drive = storage("google-drive", "/drive/v3")
    links = client.get(f"/api/integrations/{drive}", headers=member.headers).get_json()["_links"]
    assert links["inf:directories-preview"] == {
        "href": f"/api/integrations/{drive}/directories/preview"}
    other = make_integration(type="custom", shares={"mia": 1})
    assert "inf:directories-preview" not in client.get(
        f"/api/integrations/{other}", headers=member.headers).get_json()["_links"]


def test_only_storage_integrations_and_readers(client, member, make_caller, make_integration,
                                               storage):
    custom = make_integration(type="custom", auth_type="none", api_base_uri="https://x.example",
                              shares={"mia": 1})
    assert_problem(preview(client, member, custom), 409, "directories_not_supported")
    outsider = make_caller("olaf")
    assert_problem(preview(client, outsider, storage("google-drive", "/drive/v3")), 404,
                   "integration_not_found")


def names(answer) -> list[str]:
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return [folder["name"] for folder in answer.get_json()["directories"]]


def test_google_drive_reads_every_page(client, member, storage, upstream):
    drive = storage("google-drive", "/drive/v3")
    upstream.respond("/drive/v3/files",
                     {"json": {"files": [{"id": "1", "name": "b", "mimeType": FOLDER}],
                               "nextPageToken": "page-2"}},
                     {"json": {"files": [{"id": "2", "name": "a", "mimeType": FOLDER}]}})

    assert names(preview(client, member, drive)) == ["a", "b"]
    first, second = upstream.requests("/drive/v3/files")
    assert "pageToken" not in parse_qs(first.query)
    assert parse_qs(second.query)["pageToken"] == ["page-2"]
    assert parse_qs(second.query)["q"] == parse_qs(first.query)["q"]


def test_sharepoint_lists_the_sites_drive_and_follows_next_links(client, member, storage,
                                                                 upstream):
    site = "example.sharepoint.com,1111,2222"
    sharepoint = storage("sharepoint", "/v1.0", siteId=site)
    children = f"/v1.0/sites/{site}/drive/items/ITEM9/children"
    upstream.respond(children, {"json": {"value": [
        {"id": "a", "name": "Contracts", "folder": {}}, {"id": "f", "name": "x.docx", "file": {}}],
        "@odata.nextLink": f"{upstream.url}{children}?$skiptoken=abc%3D%3D&$top=999"}},
        {"json": {"value": [{"id": "b", "name": "Archive", "folder": {}}]}})

    answer = preview(client, member, sharepoint, folderId="ITEM9", path="/Legal")

    assert names(answer) == ["Archive", "Contracts"]
    assert answer.get_json()["directories"][0]["path"] == "/Legal/Archive"
    first, second = upstream.requests(children)
    assert parse_qs(second.query)["$skiptoken"] == ["abc=="]
    assert second.header("Authorization") == f"Bearer {TOKEN}"


def test_sharepoint_without_a_site_lists_the_root_site_or_the_drive_named(client, member,
                                                                         storage, upstream):
    root_site = storage("sharepoint", "/v1.0")
    library = storage("sharepoint", "/v1.0", driveId="b!lib/1")
    upstream.respond("/v1.0/sites/root/drive/root/children", {"json": {"value": []}})
    upstream.respond("/v1.0/drives/b%21lib%2F1/root/children", {"json": {"value": []}})

    assert names(preview(client, member, root_site)) == []
    assert names(preview(client, member, library)) == []
    assert [r.path for r in upstream.requests()] == ["/v1.0/sites/root/drive/root/children",
                                                      "/v1.0/drives/b%21lib%2F1/root/children"]


def test_dropbox_lists_with_a_post_and_continues_with_the_cursor(client, member, storage,
                                                                 upstream):
    dropbox = storage("dropbox", "/2", rootPath="/Apps/Hub")
    upstream.respond("/2/files/list_folder", {"json": {"entries": [
        {".tag": "folder", "id": "id:b", "name": "Invoices", "path_display": "/Apps/Hub/Invoices"},
        {".tag": "file", "id": "id:f", "name": "a.pdf"}], "cursor": "C1", "has_more": True}})
    upstream.respond("/2/files/list_folder/continue", {"json": {"entries": [
        {".tag": "folder", "id": "id:a", "name": "Archive"}], "cursor": "C2", "has_more": False}})

    answer = preview(client, member, dropbox)

    assert names(answer) == ["Archive", "Invoices"]
    listed, continued = upstream.requests("/2/files/list_folder")
    assert continued.path == "/2/files/list_folder/continue"
    assert listed.method == continued.method == "POST"
    assert listed.header("Content-Type") == "application/json"
    assert listed.json() == {"path": "/Apps/Hub", "recursive": False, "include_deleted": False,
                             "limit": 2000}
    assert continued.json() == {"cursor": "C1"}
    assert listed.header("Authorization") == f"Bearer {TOKEN}"


def test_dropbox_subfolder_by_id(client, member, storage, upstream):
    dropbox = storage("dropbox", "/2")
    upstream.respond("/2/files/list_folder", {"json": {"entries": [], "has_more": False}})

    assert names(preview(client, member, dropbox, folderId="id:abc")) == []
    assert upstream.requests()[0].json()["path"] == "id:abc"


def test_box_lists_folder_items_and_follows_the_marker(client, member, storage, upstream):
    box = storage("box", "/2.0", rootFolderId="123")
    upstream.respond("/2.0/folders/123/items", {"json": {"entries": [
        {"type": "folder", "id": "77", "name": "Plans"}, {"type": "file", "id": "8", "name": "x"},
        {"type": "web_link", "id": "9", "name": "link"}], "next_marker": "M2", "limit": 1000}},
        {"json": {"entries": [{"type": "folder", "id": 78, "name": "Budget"}],
                  "next_marker": None}})

    answer = preview(client, member, box)

    assert answer.get_json()["directories"] == [
        {"id": "78", "name": "Budget", "path": "/Budget", "mimeType": "inode/directory"},
        {"id": "77", "name": "Plans", "path": "/Plans", "mimeType": "inode/directory"}]
    first, second = upstream.requests("/2.0/folders/123/items")
    assert parse_qs(first.query) == {"fields": ["id,type,name"], "limit": ["1000"],
                                     "usemarker": ["true"]}
    assert parse_qs(second.query)["marker"] == ["M2"]


def test_box_root_is_all_files(client, member, storage, upstream):
    box = storage("box", "/2.0")
    upstream.respond("/2.0/folders/0/items", {"json": {"entries": []}})
    assert names(preview(client, member, box)) == []


def test_a_folder_of_more_pages_than_one_preview_reads_is_truncated(client, member, admin,
                                                                    storage, upstream):
    box = storage("box", "/2.0")
    upstream.respond("/2.0/folders/0/items", *({"json": {
        "entries": [{"type": "folder", "id": str(n), "name": f"F{n}"}],
        "next_marker": f"m{n}"}} for n in range(directories.MAX_PAGES + 1)))

    answer = preview(client, member, box)

    assert answer.status_code == 200
    assert answer.get_json()["truncated"] is True
    assert len(answer.get_json()["directories"]) == directories.MAX_PAGES
    assert len(upstream.requests()) == directories.MAX_PAGES
    logged = client.get(f"/api/integrations/{box}/requests?limit=100",
                        headers=admin.headers).get_json()["_embedded"]["inf:proxy-request"]
    assert len(logged) == directories.MAX_PAGES  # every page is a proxied call of its own


def many(count: int, start: int = 0) -> list[dict]:
    return [{"type": "folder", "id": str(n), "name": f"f{n:05}"} for n in range(start, count)]


def test_a_preview_keeps_at_most_max_folders(client, member, storage, upstream):
    box = storage("box", "/2.0")
    cap = directories.MAX_FOLDERS
    upstream.respond("/2.0/folders/0/items",
                     {"json": {"entries": many(cap - 2), "next_marker": "m1"}},
                     {"json": {"entries": many(cap + 3, cap - 2), "next_marker": "m2"}})

    answer = preview(client, member, box)

    assert answer.status_code == 200
    assert answer.get_json()["truncated"] is True
    listed = answer.get_json()["directories"]
    assert len(listed) == cap and listed[-1]["name"] == f"f{cap - 1:05}"
    assert len(upstream.requests()) == 2  # the third page is never asked for


def test_exactly_max_folders_on_the_last_page_is_complete(client, member, storage, upstream):
    box = storage("box", "/2.0")
    upstream.respond("/2.0/folders/0/items",
                     {"json": {"entries": many(directories.MAX_FOLDERS)}})

    answer = preview(client, member, box)

    assert answer.get_json()["truncated"] is False
    assert len(answer.get_json()["directories"]) == directories.MAX_FOLDERS


def test_the_whole_listing_ends_within_the_integrations_timeout(client, member, storage,
                                                                upstream):
    # Each page comes well within the timeout; all of them together do not.
    box = storage("box", "/2.0", timeout=0.8)
    upstream.respond("/2.0/folders/0/items", *({"delay": 0.3, "json": {
        "entries": [], "next_marker": f"m{n}"}} for n in range(directories.MAX_PAGES)))

    started = time.monotonic()
    answer = preview(client, member, box)

    assert_problem(answer, 504, "upstream_timeout")
    assert time.monotonic() - started < 2.0
    assert len(upstream.requests()) <= 3


def test_a_trickling_page_body_ends_at_the_deadline(client, member, storage, upstream):
    drive = storage("google-drive", "/drive/v3", timeout=0.5)
    upstream.respond("/drive/v3/files", {"json": {"files": []}, "body_delay": 3})

    started = time.monotonic()
    assert_problem(preview(client, member, drive), 504, "upstream_timeout")
    assert time.monotonic() - started < 2.0


def test_a_rate_limit_met_between_pages_is_429(client, member, storage, upstream):
    box = storage("box", "/2.0", rateLimit={"perUser": 1})
    upstream.respond("/2.0/folders/0/items", {"json": {"entries": [], "next_marker": "m"}})

    answer = preview(client, member, box)

    assert_problem(answer, 429, "rate_limited")
    assert answer.headers["Retry-After"]
    assert len(upstream.requests()) == 1
    operation = client.get("/api/openapi.json").get_json()["paths"][
        "/api/integrations/{integration_id}/directories/preview"]["post"]
    assert "429" in operation["responses"]


@pytest.mark.parametrize("kind, base, path, entry", [
    ("google-drive", "/drive/v3", "/drive/v3/files", {"mimeType": FOLDER}),
    ("onedrive", "/v1.0", "/v1.0/me/drive/root/children", {"folder": {}}),
    ("dropbox", "/2", "/2/files/list_folder", {".tag": "folder"}),
    ("box", "/2.0", "/2.0/folders/0/items", {"type": "folder"}),
])
@pytest.mark.parametrize("named", [
    {"id": "1", "name": None}, {"id": "1", "name": 7}, {"id": "1", "name": {"x": 1}},
    {"id": "1", "name": ""}, {"id": "1"}, {"id": None, "name": "a"}, {"id": [1], "name": "a"},
    {"id": "", "name": "a"}, {"id": True, "name": "a"},
], ids=["name-null", "name-number", "name-object", "name-empty", "name-missing", "id-null",
        "id-list", "id-empty", "id-true"])
def test_a_folder_without_a_text_id_or_name_is_502(client, member, storage, upstream, kind,
                                                    base, path, entry, named):
    integration = storage(kind, base)
    key = {"google-drive": "files", "onedrive": "value"}.get(kind, "entries")
    upstream.respond(path, {"json": {key: [{**entry, "id": "0", "name": "ok"},
                                           {**entry, **named}]}})
    assert_problem(preview(client, member, integration), 502, "directory_listing_failed")


def test_onedrive_lists_the_drive_named(client, member, storage, upstream):
    onedrive = storage("onedrive", "/v1.0", driveId="b!lib/1")
    upstream.respond("/v1.0/drives/b%21lib%2F1/items/X/children", {"json": {"value": [
        {"id": "a", "name": "Shared", "folder": {}}]}})

    assert names(preview(client, member, onedrive, folderId="X")) == ["Shared"]
    assert upstream.requests()[0].path == "/v1.0/drives/b%21lib%2F1/items/X/children"


@pytest.mark.parametrize("root, sent", [("/", ""), ("/Apps/Hub/", "/Apps/Hub"), ("", "")])
def test_dropbox_root_paths_lose_their_trailing_slash(client, member, storage, upstream, root,
                                                      sent):
    dropbox = storage("dropbox", "/2", rootPath=root)
    upstream.respond("/2/files/list_folder", {"json": {"entries": [], "has_more": False}})

    assert names(preview(client, member, dropbox)) == []
    assert upstream.requests()[0].json()["path"] == sent
