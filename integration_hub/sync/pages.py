"""Fetching one page of a sync: through the request proxy's own code (``proxy.prepare`` and
``proxy.send``: the same connection, token refresh, URL guard, network policy and retries,
and each call in the request log), with no transaction of the hub's database open while the
upstream answers, read within ``HUB_SYNC_MAX_PAGE_BYTES`` before anything parses it, and all
of it, retries included, within ``HUB_SYNC_PAGE_TIMEOUT`` however slowly its bytes arrive
(docs/security.md, "Outbound deadlines")."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import sessionmaker

from integration_hub import errors, json_body
from integration_hub.config import Settings
from integration_hub.outbound.deadlines import Deadline
from integration_hub.outbound.upstream_http import AnswerTooLarge, UpstreamTimeout, read_capped
from integration_hub.proxy import forwarding as proxy
from integration_hub.proxy import request_log

RETRIES = 3  # per page, for transport errors and 429/5xx answers (idempotent GETs)


class SyncFailed(Exception):
    """Why a run failed, in words safe to show to anyone who may read the integration."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def get_page(session, user, tenant, found, page, settings: Settings, pool,
             make_session: sessionmaker) -> tuple[Any, str | None, str]:
    """One page: (its JSON document, its ``Link`` header, its URL)."""
    call = proxy.ProxyCall(method="GET", target=page.target, query=dict(page.params) or None,
                           headers={"Accept": "application/json"}, retries=RETRIES)
    try:
        prepared = proxy.prepare(session, user, tenant, found, call, settings)
    except errors.HubError as failure:
        raise SyncFailed(failure.code, f"page {page.number}: {failure.detail}") from None
    record, limit, answer = prepared.record, settings.sync_max_page_bytes, None
    deadline = Deadline(settings.sync_page_timeout)
    try:
        try:
            answer = proxy.send(pool, prepared, call, settings, session, deadline)
            record.status = answer.status
            if not 200 <= answer.status < 300:
                answer.close()  # its body is of no use: not read at all
                raise SyncFailed("sync_upstream_error",
                                 f"page {page.number}: the upstream answered {answer.status}")
            body = read_capped(answer, limit)
            record.bytes_received = len(body)
        finally:
            if deadline.stop():  # whatever the shutdown made of the call
                raise UpstreamTimeout(f"the page took longer than {deadline.seconds:g} s "
                                      "(HUB_SYNC_PAGE_TIMEOUT)")
    except AnswerTooLarge as too_large:
        record.error, record.bytes_received = "sync_page_too_large", too_large.received
        raise SyncFailed("sync_page_too_large", f"page {page.number} is larger than {limit} "
                                                "bytes (HUB_SYNC_MAX_PAGE_BYTES)") from None
    except errors.HubError as failure:
        record.error = failure.code
        raise SyncFailed(failure.code, f"page {page.number}: {failure.detail}") from None
    finally:
        if answer is not None:
            answer.release_conn()
        request_log.write(make_session, record, _elapsed(record))
    try:
        document = json_body.loads(body)
    except ValueError:
        raise SyncFailed("sync_page_invalid", f"page {page.number} is not JSON") from None
    return document, answer.headers.get("Link"), prepared.url


def _elapsed(record: request_log.CallRecord) -> int:
    return int((time.monotonic() - record.started) * 1000)
