"""A sync page is capped while it arrives, before anything parses it (docs/security.md,
"Sync pages: size and credentials").

A page of 64 MiB from a real local upstream used to be read whole and then parsed (tens of
times its size in memory). Now the run fails with ``sync_page_too_large`` once the page
passes ``HUB_SYNC_MAX_PAGE_BYTES``: a declared ``Content-Length`` is refused before the
body is read, a chunked or compressed body is counted (decoded) while it streams. The
upstream never gets its whole page out, and the records stay as the last good run left
them.
"""

from __future__ import annotations

import gzip
import json
import time

import pytest
from sqlalchemy import select

from integration_hub import create_app
from integration_hub.db.models import ProxyRequest
from integration_hub.queue import job_queue
from tests.conftest import make_settings

SIZE = 64 * 1024 * 1024
API_KEY = "page-cap-upstream-key-0815"
SYNC = {"model": "contacts", "path": "/contacts", "itemsPath": "data",
        "pagination": {"style": "cursor", "cursorPath": "meta.next"}}


def page_bytes(items, next_cursor=None, padding=0) -> bytes:
    """A JSON page; ``padding`` spaces inside a string make it as large as wanted."""
    document = {"data": items, "meta": {"next": next_cursor}, "pad": " " * padding}
    return json.dumps(document).encode()


def as_page(body: bytes, **values) -> dict:
    return {"body": body, "headers": [("Content-Type", "application/json")], **values}


@pytest.fixture
def synced(make_integration, upstream):
    def make():
        return make_integration("Contacts", type="custom", auth_type="apikey", mode="shared",
                                api_base_uri=f"{upstream.url}/v1", api_key=API_KEY,
                                shares={"mia": 2}, data={"sync": SYNC})

    return make


def run_sync(client, caller, integration, run_queue) -> dict:
    answer = client.post(f"/api/integrations/{integration}/sync", headers=caller.headers)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    run_queue()
    followed = client.get(answer.get_json()["_links"]["self"]["href"], headers=caller.headers)
    assert followed.status_code == 200
    return followed.get_json()


def record_ids(client, caller, integration) -> set[str]:
    answer = client.get(f"/api/integrations/{integration}/records", headers=caller.headers,
                        query_string={"model": "contacts", "limit": 500})
    assert answer.status_code == 200
    return {item["id"] for item in answer.get_json()["_embedded"]["inf:record"]}


def sent_by_upstream(upstream, before: int) -> int:
    """How many bytes of its last answer the upstream got out: it publishes the count when
    it has written everything or its write failed (the hub hung up). Waits for that."""
    deadline = time.monotonic() + 60
    while upstream.sent_size == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.sent_size != before, "the upstream is still writing its answer"
    return upstream.sent_size


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_64_mib_page_fails_the_run_at_the_cap_without_being_read_whole(
        app, client, session, member, upstream, synced, run_queue, framing):
    cap = app.config["HUB_SETTINGS"].sync_max_page_bytes
    integration = synced()
    upstream.respond("/v1/contacts", as_page(page_bytes([{"id": 1}, {"id": 2}])))
    assert run_sync(client, member, integration, run_queue)["status"] == "succeeded"
    first_page = page_bytes([{"id": 3}], "c-2")
    upstream.reset()
    upstream.respond("/v1/contacts", as_page(first_page),
                     {"big": SIZE, "chunked": framing == "chunked"})

    run = run_sync(client, member, integration, run_queue)

    assert run["status"] == "failed" and run["errorCode"] == "sync_page_too_large", run
    assert run["error"] == f"page 2 is larger than {cap} bytes (HUB_SYNC_MAX_PAGE_BYTES)"
    assert run["pages"] == 1  # the refused page counts for nothing
    assert record_ids(client, member, integration) == {"1", "2"}  # the last good run's
    assert sent_by_upstream(upstream, len(first_page)) < SIZE
    logged = session.scalars(select(ProxyRequest).where(
        ProxyRequest.integration_id == integration).order_by(ProxyRequest.created_at)).all()
    assert logged[-1].error == "sync_page_too_large"
    if framing == "content-length":  # refused on what it declared: not a byte of it read
        assert logged[-1].bytes_received == 0
    else:  # counted while it streamed: one byte past the cap, no more
        assert cap < logged[-1].bytes_received <= cap + 1


def test_a_compressed_page_is_measured_as_it_decompresses(client, member, upstream, synced,
                                                         run_queue, app):
    cap = app.config["HUB_SETTINGS"].sync_max_page_bytes
    integration = synced()
    body = page_bytes([{"id": 1}], padding=SIZE)  # valid JSON, 64 MiB, about 64 KiB gzipped
    upstream.respond("/v1/contacts", as_page(body, gzip=True))

    run = run_sync(client, member, integration, run_queue)

    assert len(gzip.compress(body)) < cap < len(body)
    assert run["status"] == "failed" and run["errorCode"] == "sync_page_too_large", run
    assert record_ids(client, member, integration) == set()


@pytest.fixture
def small_cap_hub(migrated_app, tmp_path):
    """A hub on the test's database whose sync pages may hold 64 KiB."""
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url, tmp_path,
                             HUB_SYNC_MAX_PAGE_BYTES=str(64 * 1024))
    hub = create_app(settings)
    yield hub
    hub.extensions["integration_hub.request_log"].flush()
    job_queue(hub).huey.flush()
    hub.extensions["integration_hub.db"].kw["bind"].dispose()


def test_the_cap_is_the_setting_a_page_of_exactly_the_cap_passes(
        app, small_cap_hub, member, upstream, synced):
    cap = 64 * 1024
    integration = synced()
    client = small_cap_hub.test_client()
    huey = job_queue(small_cap_hub).huey

    def run_queue():
        while (task := huey.dequeue()) is not None:
            huey.execute(task)

    fitting = page_bytes([{"id": 1}], "c-2")
    fitting = page_bytes([{"id": 1}], "c-2", padding=cap - len(fitting))
    over = page_bytes([{"id": 2}])
    over = page_bytes([{"id": 2}], padding=cap + 1 - len(over))
    assert (len(fitting), len(over)) == (cap, cap + 1)
    upstream.respond("/v1/contacts", as_page(fitting), as_page(over, chunked=True))

    run = run_sync(client, member, integration, run_queue)

    assert run["status"] == "failed" and run["errorCode"] == "sync_page_too_large", run
    assert run["error"] == f"page 2 is larger than {cap} bytes (HUB_SYNC_MAX_PAGE_BYTES)"
    assert run["pages"] == 1


def test_a_page_that_breaks_off_fails_the_run_as_unreachable(client, member, upstream, synced,
                                                             run_queue):
    integration = synced()
    upstream.respond("/v1/contacts", as_page(b'{"data": [{"id": 1}', headers=[
        ("Content-Type", "application/json"), ("Content-Length", "4096")]))

    run = run_sync(client, member, integration, run_queue)

    assert run["status"] == "failed" and run["errorCode"] == "upstream_unreachable", run
    assert run["error"] == "page 1: the upstream refused or dropped the connection"
    assert record_ids(client, member, integration) == set()
