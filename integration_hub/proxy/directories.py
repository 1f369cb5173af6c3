"""Folder previews of storage integrations: the folders inside one folder, read
through the request proxy with the caller's connection (same credentials, refresh,
URL guard and request log as any proxied call), page after page.

Each storage API's calls and answers are pure functions (proxy/storage_listings.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import urllib3
from sqlalchemy.orm import Session, sessionmaker

from integration_hub import errors, json_body
from integration_hub.config import Settings
from integration_hub.db.models import Tenant, User
from integration_hub.integrations.store import Found
from integration_hub.proxy import forwarding as proxy
from integration_hub.proxy import request_log
from integration_hub.proxy.storage_listings import DRIVERS, Driver, Listing, NextPageElsewhere

MAX_ANSWER = 4 * 1024 * 1024  # bytes of one page's answer
MAX_PAGES = 20  # pages read for one preview; more is answered as truncated


class DirectoriesNotSupported(errors.Conflict):
    code, title = "directories_not_supported", "This integration has no folders to preview"


class DirectoryListingFailed(errors.HubError):
    status, code, title = 502, "directory_listing_failed", "The storage did not list the folder"


@dataclass(frozen=True)
class Preview:
    directories: list[dict[str, Any]]
    truncated: bool  # the storage had more pages than one preview reads


def directories(folders: list[dict[str, Any]], parent_path: str) -> list[dict[str, Any]]:
    """The subfolders, with their path under ``parent_path``, by name."""
    base = "/" + parent_path.strip("/") if parent_path.strip("/") else ""
    found = [{**folder, "path": f"{base}/{folder['name']}"} for folder in folders]
    return sorted(found, key=lambda folder: (folder["name"].lower(), folder["id"]))


def _folders_of(document: Any, driver: Driver) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        raise DirectoryListingFailed("the storage's answer is not a JSON object")
    try:
        return driver.folders(document)
    except (KeyError, TypeError, AttributeError):
        raise DirectoryListingFailed("the storage's answer has no folder list") from None


def preview(session: Session, user: User, tenant: Tenant, found: Found, folder_id: str | None,
            parent_path: str, settings: Settings, pool: urllib3.PoolManager,
            make_session: sessionmaker) -> Preview:
    """The subfolders of a folder, every page of them up to ``MAX_PAGES``, each page a
    proxied call of its own (credentials, refresh, URL guard, request log)."""
    driver = DRIVERS.get(found.integration.type)
    if driver is None:
        raise DirectoriesNotSupported(
            f"folder previews exist for {', '.join(sorted(DRIVERS))}, not {found.integration.type}")
    listing: Listing | None = driver.listing(folder_id, found.integration.data or {})
    folders: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        document, base = _page(session, user, tenant, found, listing, settings, pool,
                               make_session)
        folders += _folders_of(document, driver)
        try:
            listing = driver.next_page(document, listing, base)
        except NextPageElsewhere as elsewhere:
            raise DirectoryListingFailed(str(elsewhere)) from None
        except (KeyError, TypeError, AttributeError):
            raise DirectoryListingFailed("the storage's answer has no usable next page") from None
        if listing is None:
            break
    return Preview(directories(folders, parent_path), truncated=listing is not None)


def _page(session: Session, user: User, tenant: Tenant, found: Found, listing: Listing,
          settings: Settings, pool: urllib3.PoolManager,
          make_session: sessionmaker) -> tuple[Any, str]:
    """One page's answer as JSON, and the API base it was asked under."""
    body = listing.encoded_body()
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    call = proxy.ProxyCall(method=listing.method, target=listing.target, query=listing.params,
                           headers=headers, body=body, retries=2)
    prepared = proxy.prepare(session, user, tenant, found, call, settings)
    try:
        answer = proxy.send(pool, prepared, call, settings, session)
    except errors.HubError as failure:
        prepared.record.error = failure.code
        request_log.write(make_session, prepared.record, _elapsed(prepared.record))
        raise
    try:
        content = answer.read(amt=MAX_ANSWER + 1, decode_content=True)
        prepared.record.status, prepared.record.bytes_received = answer.status, len(content)
    finally:
        answer.release_conn()
        request_log.write(make_session, prepared.record, _elapsed(prepared.record))
    if not 200 <= answer.status < 300:
        raise DirectoryListingFailed(f"the storage answered {answer.status}",
                                     upstreamStatus=answer.status)
    if len(content) > MAX_ANSWER:
        raise DirectoryListingFailed(f"the storage's answer is larger than {MAX_ANSWER} bytes")
    try:
        return json_body.loads(content), prepared.base
    except ValueError:
        raise DirectoryListingFailed("the storage's answer is not JSON") from None


def _elapsed(record: request_log.CallRecord) -> int:
    return int((time.monotonic() - record.started) * 1000)
