"""Folder previews of storage integrations: the folders inside one folder, read
through the request proxy with the caller's connection (same credentials, refresh,
URL guard and request log as any proxied call).

Each storage driver says how to ask for a folder's subfolders and how to read the
answer; those parts are pure functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3
from sqlalchemy.orm import Session, sessionmaker

from integration_hub import errors, json_body
from integration_hub.config import Settings
from integration_hub.db.models import Tenant, User
from integration_hub.integrations.store import Found
from integration_hub.proxy import forwarding as proxy
from integration_hub.proxy import request_log

DRIVE_FOLDER = "application/vnd.google-apps.folder"
FOLDER = "inode/directory"
MAX_ANSWER = 4 * 1024 * 1024


class DirectoriesNotSupported(errors.Conflict):
    code, title = "directories_not_supported", "This integration has no folders to preview"


class DirectoryListingFailed(errors.HubError):
    status, code, title = 502, "directory_listing_failed", "The storage did not list the folder"


@dataclass(frozen=True)
class Listing:
    target: str
    params: dict[str, str]


def _drive_listing(folder_id: str | None) -> Listing:
    parent = (folder_id or "root").replace("\\", "\\\\").replace("'", "\\'")
    return Listing("files", {"q": f"'{parent}' in parents and mimeType = '{DRIVE_FOLDER}' "
                                  "and trashed = false",
                             "fields": "files(id,name,mimeType)", "orderBy": "name",
                             "pageSize": "1000"})


def _drive_folders(document: Any) -> list[dict[str, Any]]:
    return [{"id": item["id"], "name": item["name"], "mimeType": item.get("mimeType", DRIVE_FOLDER)}
            for item in document.get("files", []) if item.get("mimeType", DRIVE_FOLDER) == DRIVE_FOLDER]


def _onedrive_listing(folder_id: str | None) -> Listing:
    item = f"items/{quote(folder_id, safe='')}" if folder_id else "root"
    return Listing(f"me/drive/{item}/children", {"$select": "id,name,folder", "$top": "999"})


def _onedrive_folders(document: Any) -> list[dict[str, Any]]:
    return [{"id": item["id"], "name": item["name"], "mimeType": FOLDER}
            for item in document.get("value", []) if "folder" in item]


@dataclass(frozen=True)
class Driver:
    listing: Callable[[str | None], Listing]
    folders: Callable[[Any], list[dict[str, Any]]]


DRIVERS = {"google-drive": Driver(_drive_listing, _drive_folders),
           "onedrive": Driver(_onedrive_listing, _onedrive_folders)}


def directories(document: Any, driver: Driver, parent_path: str) -> list[dict[str, Any]]:
    """The subfolders in the answer, with their path under ``parent_path``, by name."""
    if not isinstance(document, dict):
        raise DirectoryListingFailed("the storage's answer is not a JSON object")
    try:
        folders = driver.folders(document)
    except (KeyError, TypeError, AttributeError):
        raise DirectoryListingFailed("the storage's answer has no folder list") from None
    base = "/" + parent_path.strip("/") if parent_path.strip("/") else ""
    found = [{**folder, "path": f"{base}/{folder['name']}"} for folder in folders]
    return sorted(found, key=lambda folder: (folder["name"].lower(), folder["id"]))


def preview(session: Session, user: User, tenant: Tenant, found: Found, folder_id: str | None,
            parent_path: str, settings: Settings, pool: urllib3.PoolManager,
            make_session: sessionmaker) -> list[dict[str, Any]]:
    driver = DRIVERS.get(found.integration.type)
    if driver is None:
        raise DirectoriesNotSupported(
            f"folder previews exist for {', '.join(sorted(DRIVERS))}, not {found.integration.type}")
    listing = driver.listing(folder_id)
    call = proxy.ProxyCall(method="GET", target=listing.target, query=listing.params,
                           headers={"Accept": "application/json"}, retries=2)
    prepared = proxy.prepare(session, user, tenant, found, call, settings)
    try:
        answer = proxy.send(pool, prepared, call, settings, session)
    except errors.HubError as failure:
        prepared.record.error = failure.code
        request_log.write(make_session, prepared.record, _elapsed(prepared.record))
        raise
    try:
        body = answer.read(amt=MAX_ANSWER + 1, decode_content=True)
        prepared.record.status, prepared.record.bytes_received = answer.status, len(body)
    finally:
        answer.release_conn()
        request_log.write(make_session, prepared.record, _elapsed(prepared.record))
    if not 200 <= answer.status < 300:
        raise DirectoryListingFailed(f"the storage answered {answer.status}",
                                     upstreamStatus=answer.status)
    try:
        document = json_body.loads(body)
    except ValueError:
        raise DirectoryListingFailed("the storage's answer is not JSON") from None
    return directories(document, driver, parent_path)


def _elapsed(record: request_log.CallRecord) -> int:
    return int((time.monotonic() - record.started) * 1000)
