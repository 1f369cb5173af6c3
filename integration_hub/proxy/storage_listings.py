"""How each storage API lists a folder's subfolders, page by page: pure functions.

A driver says which call lists a folder (``listing``: relative to the integration's API
base, with the integration's ``data`` for where its root is), which entries of an answer
are folders (``folders``), and which call fetches the next page, if there is one
(``next_page``). The shapes are those the APIs document:

- Google Drive ``files.list``: ``files``, paged by ``nextPageToken`` -> ``pageToken``;
- OneDrive and SharePoint (Microsoft Graph ``children``): ``value``, items with a
  ``folder`` facet, paged by ``@odata.nextLink``, an absolute URL that must lie under the
  integration's API base (a link elsewhere is not followed: the credentials would go along);
- Dropbox ``files/list_folder`` (POST, JSON): ``entries`` tagged ``folder``, paged by
  ``has_more`` and ``cursor`` through ``files/list_folder/continue``;
- Box ``folders/{id}/items`` with marker paging: ``entries`` of type ``folder``, paged by
  ``next_marker``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

DRIVE_FOLDER = "application/vnd.google-apps.folder"
FOLDER = "inode/directory"


class NextPageElsewhere(ValueError):
    """A next-page link outside the integration's API base."""


@dataclass(frozen=True)
class Listing:
    target: str
    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None  # sent as JSON with POST; None: a GET

    @property
    def method(self) -> str:
        return "GET" if self.body is None else "POST"

    def encoded_body(self) -> bytes | None:
        return None if self.body is None else json.dumps(self.body).encode()


Data = Mapping[str, Any]


# -- Google Drive ----------------------------------------------------------------------------

def _drive_listing(folder_id: str | None, data: Data) -> Listing:
    parent = (folder_id or "root").replace("\\", "\\\\").replace("'", "\\'")
    return Listing("files", {"q": f"'{parent}' in parents and mimeType = '{DRIVE_FOLDER}' "
                                  "and trashed = false",
                             "fields": "nextPageToken,files(id,name,mimeType)",
                             "orderBy": "name", "pageSize": "1000"})


def _drive_folders(document: Any) -> list[dict[str, Any]]:
    return [{"id": item["id"], "name": item["name"], "mimeType": DRIVE_FOLDER}
            for item in document.get("files", [])
            if item.get("mimeType", DRIVE_FOLDER) == DRIVE_FOLDER]


def _drive_next(document: Any, listing: Listing, base: str) -> Listing | None:
    token = document.get("nextPageToken")
    return Listing(listing.target, {**listing.params, "pageToken": token}) \
        if isinstance(token, str) and token else None


# -- Microsoft Graph: OneDrive and SharePoint ------------------------------------------------

def _children(drive: str, folder_id: str | None) -> Listing:
    item = f"items/{quote(folder_id, safe='')}" if folder_id else "root"
    return Listing(f"{drive}/{item}/children", {"$select": "id,name,folder", "$top": "999"})


def _onedrive_listing(folder_id: str | None, data: Data) -> Listing:
    return _children("me/drive", folder_id)


def _sharepoint_listing(folder_id: str | None, data: Data) -> Listing:
    if isinstance(data.get("driveId"), str) and data["driveId"]:
        drive = f"drives/{quote(data['driveId'], safe='')}"
    elif isinstance(data.get("siteId"), str) and data["siteId"]:
        drive = f"sites/{quote(data['siteId'], safe=',')}/drive"
    else:
        drive = "sites/root/drive"
    return _children(drive, folder_id)


def _graph_folders(document: Any) -> list[dict[str, Any]]:
    return [{"id": item["id"], "name": item["name"], "mimeType": FOLDER}
            for item in document.get("value", []) if "folder" in item]


def _graph_next(document: Any, listing: Listing, base: str) -> Listing | None:
    link = document.get("@odata.nextLink")
    if not isinstance(link, str) or not link:
        return None
    return Listing(*_under_base(link, base))


def _under_base(link: str, base: str) -> tuple[str, dict[str, str]]:
    """(target, params) of an absolute ``link`` under ``base``; ``NextPageElsewhere`` when
    it is not (another scheme, host, port, or a path outside the base's)."""
    parts, root = urlsplit(link), urlsplit(base)
    prefix = root.path.rstrip("/") + "/"
    if (parts.scheme, parts.netloc) != (root.scheme, root.netloc) \
            or not parts.path.startswith(prefix) or parts.fragment \
            or any(segment in (".", "..") for segment in unquote(parts.path).split("/")):
        raise NextPageElsewhere("the next page's link lies outside the integration's API")
    return parts.path[len(prefix):], dict(parse_qsl(parts.query, keep_blank_values=True))


# -- Dropbox --------------------------------------------------------------------------------

def _dropbox_listing(folder_id: str | None, data: Data) -> Listing:
    root = data.get("rootPath") if isinstance(data.get("rootPath"), str) else ""
    return Listing("files/list_folder", body={
        "path": folder_id if folder_id else root, "recursive": False,
        "include_deleted": False, "limit": 2000})


def _dropbox_folders(document: Any) -> list[dict[str, Any]]:
    return [{"id": item["id"], "name": item["name"], "mimeType": FOLDER}
            for item in document.get("entries", []) if item.get(".tag") == "folder"]


def _dropbox_next(document: Any, listing: Listing, base: str) -> Listing | None:
    cursor = document.get("cursor")
    if document.get("has_more") is True and isinstance(cursor, str) and cursor:
        return Listing("files/list_folder/continue", body={"cursor": cursor})
    return None


# -- Box ------------------------------------------------------------------------------------

def _box_listing(folder_id: str | None, data: Data) -> Listing:
    root = data.get("rootFolderId") if isinstance(data.get("rootFolderId"), str) else "0"
    folder = quote(folder_id or root or "0", safe="")
    return Listing(f"folders/{folder}/items",
                   {"fields": "id,type,name", "limit": "1000", "usemarker": "true"})


def _box_folders(document: Any) -> list[dict[str, Any]]:
    return [{"id": str(item["id"]), "name": item["name"], "mimeType": FOLDER}
            for item in document.get("entries", []) if item.get("type") == "folder"]


def _box_next(document: Any, listing: Listing, base: str) -> Listing | None:
    marker = document.get("next_marker")
    return Listing(listing.target, {**listing.params, "marker": marker}) \
        if isinstance(marker, str) and marker else None


@dataclass(frozen=True)
class Driver:
    listing: Callable[[str | None, Data], Listing]
    folders: Callable[[Any], list[dict[str, Any]]]
    next_page: Callable[[Any, Listing, str], Listing | None]


DRIVERS = {"google-drive": Driver(_drive_listing, _drive_folders, _drive_next),
           "onedrive": Driver(_onedrive_listing, _graph_folders, _graph_next),
           "sharepoint": Driver(_sharepoint_listing, _graph_folders, _graph_next),
           "dropbox": Driver(_dropbox_listing, _dropbox_folders, _dropbox_next),
           "box": Driver(_box_listing, _box_folders, _box_next)}
