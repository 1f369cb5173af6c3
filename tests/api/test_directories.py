"""Folder previews of storage integrations, through the proxy to the recording upstream
standing in for Google Drive and OneDrive."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from tests.support.problems import assert_problem

TOKEN = "storage-bearer-token-2231"
FOLDER = "application/vnd.google-apps.folder"


@pytest.fixture
def storage(make_integration, upstream):
    def make(type_: str, base: str) -> str:
        return make_integration(f"Files {type_}", type=type_, auth_type="bearer", mode="shared",
                                api_key=TOKEN, api_base_uri=f"{upstream.url}{base}",
                                shares={"mia": 1})
    return make


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
        {"id": "f2", "name": "Zeta", "path": "/Zeta", "mimeType": FOLDER}]}
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
    assert preview(client, member, onedrive).get_json() == {"directories": []}


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
