"""Folder previews of storage integrations: the folders inside one folder, read
through the request proxy with the caller's connection (same credentials, refresh,
URL guard and request log as any proxied call), page after page, all of them within
one deadline: the integration's timeout.

Each storage API's calls and answers are pure functions (proxy/storage_listings.py). The
upstream's answers are the storage's word, never the caller's: a next page the URL guard
refuses, a page token answered twice, a folder without a usable id or name all end the
preview with 502 ``directory_listing_failed``.
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
from integration_hub.outbound.deadlines import Deadline
from integration_hub.outbound.upstream_http import AnswerTooLarge, UpstreamTimeout, read_capped
from integration_hub.proxy import forwarding as proxy
from integration_hub.proxy import request_log
from integration_hub.proxy.storage_listings import DRIVERS, Driver, Listing, ListingInvalid
from integration_hub.proxy.url_guard import UrlOutsideBase

MAX_ANSWER = 4 * 1024 * 1024  # bytes of one page's answer
MAX_PAGES = 20  # pages read for one preview; more is answered as truncated
MAX_FOLDERS = 10_000  # folders kept for one preview; more is answered as truncated


class DirectoriesNotSupported(errors.Conflict):
    code, title = "directories_not_supported", "This integration has no folders to preview"


class DirectoryListingFailed(errors.HubError):
    status, code, title = 502, "directory_listing_failed", "The storage did not list the folder"


@dataclass(frozen=True)
class Preview:
    directories: list[dict[str, Any]]
    truncated: bool  # the folder has more than one preview reads (pages or folders)


def directories(folders: list[dict[str, Any]], parent_path: str) -> list[dict[str, Any]]:
    """The subfolders, with their path under ``parent_path``, by name."""
    base = "/" + parent_path.strip("/") if parent_path.strip("/") else ""
    found = [{**folder, "path": f"{base}/{folder['name']}"} for folder in folders]
    return sorted(found, key=lambda folder: (folder["name"].lower(), folder["id"]))


def preview(session: Session, user: User, tenant: Tenant, found: Found, folder_id: str | None,
            parent_path: str, settings: Settings, pool: urllib3.PoolManager,
            make_session: sessionmaker) -> Preview:
    """The subfolders of a folder, every page of them up to ``MAX_PAGES`` and
    ``MAX_FOLDERS``, each page a proxied call of its own (credentials, refresh, URL guard,
    rate limits, request log), all of them within the integration's timeout (else 504
    ``upstream_timeout``)."""
    driver = DRIVERS.get(found.integration.type)
    if driver is None:
        raise DirectoriesNotSupported(
            f"folder previews exist for {', '.join(sorted(DRIVERS))}, not {found.integration.type}")
    listing: Listing | None = driver.listing(folder_id, found.integration.data or {})
    walk = _Walk(session, user, tenant, found, settings, pool, make_session)
    folders: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    try:
        for _ in range(MAX_PAGES):
            seen.add(listing.key)
            document = walk.page(listing, following=len(seen) > 1)
            folders += _folders_of(document, driver)
            listing = _next_page(document, driver, listing, seen)
            if len(folders) >= MAX_FOLDERS:
                truncated = listing is not None or len(folders) > MAX_FOLDERS
                return Preview(directories(folders[:MAX_FOLDERS], parent_path), truncated)
            if listing is None:
                return Preview(directories(folders, parent_path), truncated=False)
        return Preview(directories(folders, parent_path), truncated=True)
    except errors.HubError:
        if walk.deadline is not None and walk.deadline.expired:  # whatever the shutdown made
            raise walk.too_late() from None
        raise
    finally:
        if walk.deadline is not None:
            walk.deadline.stop()


def _folders_of(document: Any, driver: Driver) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        raise DirectoryListingFailed("the storage's answer is not a JSON object")
    try:
        return driver.folders(document)
    except ListingInvalid as invalid:
        raise DirectoryListingFailed(f"the storage's answer is unusable: {invalid}") from None


def _next_page(document: dict[str, Any], driver: Driver, listing: Listing,
               seen: set[tuple]) -> Listing | None:
    try:
        following = driver.next_page(document, listing)
    except ListingInvalid as invalid:
        raise DirectoryListingFailed(f"the storage's answer is unusable: {invalid}") from None
    if following is not None and following.key in seen:
        raise DirectoryListingFailed("the storage answered the same next page twice")
    return following


class _Walk:
    """The pages of one preview: proxied calls under one deadline, which starts with the
    first call and lasts the integration's timeout."""

    def __init__(self, session: Session, user: User, tenant: Tenant, found: Found,
                 settings: Settings, pool: urllib3.PoolManager, make_session: sessionmaker):
        self.session, self.user, self.tenant, self.found = session, user, tenant, found
        self.settings, self.pool, self.make_session = settings, pool, make_session
        self.deadline: Deadline | None = None

    def too_late(self) -> UpstreamTimeout:
        seconds = self.deadline.seconds if self.deadline is not None else 0
        return UpstreamTimeout(f"the storage did not list the folder within {seconds:g} s")

    def page(self, listing: Listing, following: bool) -> Any:
        """One page's answer as JSON. A next page the URL guard refuses is the storage's
        fault (502), never the caller's: that link came from its answer."""
        if self.deadline is not None and self.deadline.expired:
            raise self.too_late()
        body = listing.encoded_body()
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        call = proxy.ProxyCall(method=listing.method, target=listing.target,
                               query=listing.params or None, headers=headers, body=body,
                               retries=2)
        try:
            prepared = proxy.prepare(self.session, self.user, self.tenant, self.found, call,
                                     self.settings)
        except UrlOutsideBase as outside:
            if following:
                raise DirectoryListingFailed(f"the storage's next page: {outside.detail}") \
                    from None
            raise  # the first page: the integration's own configuration
        if self.deadline is None:
            self.deadline = Deadline(prepared.answer_seconds)
        record, answer, content = prepared.record, None, None
        try:
            answer = proxy.send(self.pool, prepared, call, self.settings, self.session,
                                self.deadline)
            record.status = answer.status
            if 200 <= answer.status < 300:
                content = read_capped(answer, MAX_ANSWER)
                record.bytes_received = len(content)
            else:
                answer.close()  # its body is of no use: not read at all
        except AnswerTooLarge as too_large:
            record.error, record.bytes_received = DirectoryListingFailed.code, too_large.received
            raise DirectoryListingFailed(
                f"the storage's answer is larger than {MAX_ANSWER} bytes") from None
        except UrlOutsideBase as outside:  # a redirect elsewhere: the storage's word too
            record.error = DirectoryListingFailed.code
            raise DirectoryListingFailed(f"the storage's redirect: {outside.detail}") from None
        except errors.HubError as failure:
            record.error = failure.code
            raise
        finally:
            if answer is not None:
                self.deadline.unwatch()  # its connection goes back to the pool
                answer.release_conn()
            request_log.write(self.make_session, record, _elapsed(record))
        if content is None:
            raise DirectoryListingFailed(f"the storage answered {answer.status}",
                                         upstreamStatus=answer.status)
        try:
            return json_body.loads(content)
        except ValueError:
            raise DirectoryListingFailed("the storage's answer is not JSON") from None


def _elapsed(record: request_log.CallRecord) -> int:
    return int((time.monotonic() - record.started) * 1000)
