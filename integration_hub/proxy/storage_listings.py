"""How each storage API lists a folder's subfolders, page by page: pure functions.

A driver says which call lists a folder (``listing``: relative to the integration's API
base, with the integration's ``data`` for where its root is), which entries of an answer
are folders (``folders``), and which call fetches the next page, if there is one
(``next_page``). The shapes are those the APIs document:

- Google Drive ``files.list``: ``files``, paged by ``nextPageToken`` -> ``pageToken``;
- OneDrive and SharePoint (Microsoft Graph ``children`` of ``data.driveId``, else the
  user's own drive or the site's): ``value``, items with a ``folder`` facet, paged by
  ``@odata.nextLink``, an absolute URL handed to the proxy as it is: its URL guard decides
  whether it may be called, and where the credentials go (proxy/directories.py);
- Dropbox ``files/list_folder`` (POST, JSON; the root is ``""``): ``entries`` tagged
  ``folder``, paged by ``has_more`` and ``cursor`` through ``files/list_folder/continue``;
- Box ``folders/{id}/items`` with marker paging: ``entries`` of type ``folder``, paged by
  ``next_marker``.

An answer that is not of that shape raises ``ListingInvalid``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

DRIVE_FOLDER = "application/vnd.google-apps.folder"
FOLDER = "inode/directory"


class ListingInvalid(ValueError):
    """An answer a preview cannot use (the message says why, never what the answer held)."""


@dataclass(frozen=True)
class Listing:
    target: str  # under the API base, or an absolute URL (a Graph next link)
    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None  # sent as JSON with POST; None: a GET

    @property
    def method(self) -> str:
        return "GET" if self.body is None else "POST"

    def encoded_body(self) -> bytes | None:
        return None if self.body is None else json.dumps(self.body).encode()

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...], bytes | None]:
        """What tells two calls apart: the same key again is the same page again."""
        return self.method, self.target, tuple(sorted(self.params.items())), self.encoded_body()


Data = Mapping[str, Any]
Folders = list[dict[str, Any]]


def _entries(document: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    entries = document.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(item, Mapping) for item in entries):
        raise ListingInvalid(f"the answer's {key} is not a list of objects")
    return entries


def _folder(item: Mapping[str, Any], mime_type: str) -> dict[str, Any]:
    """A folder entry, with its ``id`` and ``name`` as non-empty text (Box's ids may be
    numbers)."""
    id_, name = item.get("id"), item.get("name")
    if isinstance(id_, int) and not isinstance(id_, bool):
        id_ = str(id_)
    if not (isinstance(id_, str) and id_ and isinstance(name, str) and name):
        raise ListingInvalid("a folder in the answer has no id or name as non-empty text")
    return {"id": id_, "name": name, "mimeType": mime_type}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _token_param(field_name: str, param: str) -> Callable[[Any, Listing], Listing | None]:
    """Paging by a token in the answer's ``field_name``, sent back as the query's ``param``
    (anything but non-empty text ends the listing)."""
    def next_page(document: Any, listing: Listing) -> Listing | None:
        token = _text(document.get(field_name))
        return None if token is None else Listing(listing.target, {**listing.params,
                                                                   param: token})
    return next_page


# -- Google Drive ----------------------------------------------------------------------------

def _drive_listing(folder_id: str | None, data: Data) -> Listing:
    parent = (folder_id or "root").replace("\\", "\\\\").replace("'", "\\'")
    return Listing("files", {"q": f"'{parent}' in parents and mimeType = '{DRIVE_FOLDER}' "
                                  "and trashed = false",
                             "fields": "nextPageToken,files(id,name,mimeType)",
                             "orderBy": "name", "pageSize": "1000"})


def _drive_folders(document: Any) -> Folders:
    return [_folder(item, DRIVE_FOLDER) for item in _entries(document, "files")
            if item.get("mimeType", DRIVE_FOLDER) == DRIVE_FOLDER]


# -- Microsoft Graph: OneDrive and SharePoint ------------------------------------------------

def _graph_drive(data: Data, default: str) -> str:
    """The drive ``data.driveId`` names (OneDrive and SharePoint alike), else ``default``."""
    drive_id = _text(data.get("driveId"))
    return f"drives/{quote(drive_id, safe='')}" if drive_id else default


def _children(drive: str, folder_id: str | None) -> Listing:
    item = f"items/{quote(folder_id, safe='')}" if folder_id else "root"
    return Listing(f"{drive}/{item}/children", {"$select": "id,name,folder", "$top": "999"})


def _onedrive_listing(folder_id: str | None, data: Data) -> Listing:
    return _children(_graph_drive(data, "me/drive"), folder_id)


def _sharepoint_listing(folder_id: str | None, data: Data) -> Listing:
    site = _text(data.get("siteId"))
    site_drive = f"sites/{quote(site, safe=',')}/drive" if site else "sites/root/drive"
    return _children(_graph_drive(data, site_drive), folder_id)


def _graph_folders(document: Any) -> Folders:
    return [_folder(item, FOLDER) for item in _entries(document, "value") if "folder" in item]


def _graph_next(document: Any, listing: Listing) -> Listing | None:
    """The ``@odata.nextLink``, as given: the proxy's URL guard decides whether it may be
    called (under the API base, or an allowed host, which gets no credentials)."""
    link = _text(document.get("@odata.nextLink"))
    if link is None:
        return None
    if not link.lower().startswith(("https://", "http://")):
        raise ListingInvalid("the next page's link is not an absolute http(s) URL")
    return Listing(link)


# -- Dropbox --------------------------------------------------------------------------------

def _dropbox_path(path: str) -> str:
    """Dropbox names a folder by a path without a trailing slash; its root is ``""``."""
    return path.rstrip("/") if path.startswith("/") else path


def _dropbox_listing(folder_id: str | None, data: Data) -> Listing:
    root = data.get("rootPath") if isinstance(data.get("rootPath"), str) else ""
    return Listing("files/list_folder", body={
        "path": _dropbox_path(folder_id or root), "recursive": False,
        "include_deleted": False, "limit": 2000})


def _dropbox_folders(document: Any) -> Folders:
    return [_folder(item, FOLDER) for item in _entries(document, "entries")
            if item.get(".tag") == "folder"]


def _dropbox_next(document: Any, listing: Listing) -> Listing | None:
    cursor = _text(document.get("cursor"))
    if document.get("has_more") is True and cursor is not None:
        return Listing("files/list_folder/continue", body={"cursor": cursor})
    return None


# -- Box ------------------------------------------------------------------------------------

def _box_listing(folder_id: str | None, data: Data) -> Listing:
    root = data.get("rootFolderId") if isinstance(data.get("rootFolderId"), str) else "0"
    folder = quote(folder_id or root or "0", safe="")
    return Listing(f"folders/{folder}/items",
                   {"fields": "id,type,name", "limit": "1000", "usemarker": "true"})


def _box_folders(document: Any) -> Folders:
    return [_folder(item, FOLDER) for item in _entries(document, "entries")
            if item.get("type") == "folder"]


@dataclass(frozen=True)
class Driver:
    listing: Callable[[str | None, Data], Listing]
    folders: Callable[[Any], Folders]
    next_page: Callable[[Any, Listing], Listing | None]


DRIVERS = {"google-drive": Driver(_drive_listing, _drive_folders,
                                  _token_param("nextPageToken", "pageToken")),
           "onedrive": Driver(_onedrive_listing, _graph_folders, _graph_next),
           "sharepoint": Driver(_sharepoint_listing, _graph_folders, _graph_next),
           "dropbox": Driver(_dropbox_listing, _dropbox_folders, _dropbox_next),
           "box": Driver(_box_listing, _box_folders, _token_param("next_marker", "marker"))}
