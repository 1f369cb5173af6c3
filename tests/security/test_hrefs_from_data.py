"""Links built from data point where they say (docs/security.md, "Links built from data").

A record id is whatever an upstream's listing says. Werkzeug wrote a path variable with "/"
and "." as they are, so a hostile upstream that listed the id ``../../../../tokens`` gave its
record the self link ``/api/integrations/<id>/records/<model>/../../../../tokens``, which
every resolver (RFC 3986, urllib3 under requests, browsers) turns into ``/api/tokens``: a
client walking the links fetched, or changed, something else than the record. Now each path
segment built from data is percent-encoded (``hal.path_segment``): "/" and every other
character outside RFC 3986's unreserved set, and the dots of a segment of dots only. The
checks here resolve every href of the answers three ways (Python's urljoin, urllib3 as
requests sends it, the WHATWG URL parser of Node.js, as browsers do) and follow the self
links over real HTTP back to the same record.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from urllib3.util import parse_url

from integration_hub.db.types import utcnow
from integration_hub.records import store as records
from tests.conftest import missing_component
from tests.support.problems import assert_problem

HOSTILE_IDS = [
    "../../../../tokens", "../../../../../api/tokens", "..\\..\\tokens", "a/b", "%2e%2e",
    "%2E%2E%2Ftokens", "?x#y", "#frag", "ünïcødé/東京", "./x", "x/..", "a/../../b", "...",
    ".%2e", "..;", "/leading", "trailing/", "a//b", "100%", "semi;colon=1", "@host:80",
    "tab\tand\nnewline", " spaced ", "+plus+", "//evil.example/x", "http://evil.example/",
]
MODEL = "contacts"


@pytest.fixture
def hostile(make_integration, upstream):
    """A shared integration syncing ``MODEL`` from the recording upstream; mia may write."""
    return make_integration("Hostile", type="custom", auth_type="none", mode="shared",
                            shares={"mia": 2}, api_base_uri=f"{upstream.url}/v1",
                            data={"sync": {"model": MODEL, "path": "/contacts",
                                           "itemsPath": "data"}})


def sync_listing(client, caller, integration, upstream, run_queue, ids) -> dict:
    upstream.respond("/v1/contacts", {"json": {"data": [{"id": record_id, "n": n} for n, record_id
                                                        in enumerate(ids)]}})
    started = client.post(f"/api/integrations/{integration}/sync", headers=caller.headers)
    assert started.status_code == 202, started.get_data(as_text=True)
    run_queue()
    run = client.get(started.headers["Location"], headers=caller.headers)
    assert run.status_code == 200
    return {"started": started, "run": run.get_json()}


def hrefs(document) -> list[str]:
    """Every href and HAL-FORMS target anywhere in ``document``."""
    found, stack = [], [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("href", "target") and isinstance(item, str):
                    found.append(item)
                else:
                    stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
    return found


def whatwg_paths(base: str, references: list[str]) -> list[str]:
    """The path each reference resolves to against ``base`` in the WHATWG URL parser."""
    node = shutil.which("node")
    if node is None:
        missing_component("node is not installed (the WHATWG URL parser of these checks)")
    script = ("const [base, refs] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "console.log(JSON.stringify(refs.map(r => new URL(r, base).pathname)));")
    done = subprocess.run([node, "-e", script], input=json.dumps([base, references]),
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def assert_resolved_in_place(base: str, references: list[str]) -> None:
    """Every reference is an absolute path (maybe with a query) that no resolver changes."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))
    for reference, browser_path in zip(references, whatwg_paths(base, references), strict=True):
        path = urlsplit(reference).path
        assert reference.startswith("/") and not reference.startswith("//"), reference
        assert urlsplit(urljoin(base, reference)).path == path, reference
        assert parse_url(origin + reference).path == path, reference
        assert browser_path == path, reference


def record_segment(integration: str, href: str) -> str:
    """The one segment a record's self link has after its model's collection."""
    collection = f"/api/integrations/{integration}/records/{MODEL}/"
    assert href.startswith(collection), href
    segment = href[len(collection):]
    assert segment and "/" not in segment and "?" not in segment and "#" not in segment, href
    return segment


def test_ids_a_hostile_upstream_plants_cannot_move_a_link(client, member, hostile, upstream,
                                                          run_queue, live_hub):
    synced = sync_listing(client, member, hostile, upstream, run_queue, HOSTILE_IDS)
    assert synced["run"]["status"] == "succeeded", synced["run"]
    assert_resolved_in_place("http://hub.example/api", [synced["started"].headers["Location"]])

    listing = client.get(f"/api/integrations/{hostile}/records?limit=500", headers=member.headers)
    assert listing.status_code == 200
    page = listing.get_json()
    items = page["_embedded"]["inf:record"]
    assert sorted(item["id"] for item in items) == sorted(HOSTILE_IDS)
    base = f"http://hub.example/api/integrations/{hostile}/records"
    assert_resolved_in_place(base, hrefs(page))

    for item in items:
        self_href = item["_links"]["self"]["href"]
        record_segment(hostile, self_href)
        # Over real HTTP, as a client sends it (requests normalises dot-segments).
        followed = requests.get(live_hub + self_href, headers=member.headers, timeout=30,
                                allow_redirects=False)
        assert followed.status_code == 200, (item["id"], self_href, followed.text[:300])
        one = followed.json()
        assert (one["id"], one["model"], one["data"]) == (item["id"], MODEL, item["data"])
        assert one["_links"] == item["_links"]
        assert_resolved_in_place(live_hub + self_href, hrefs(one))


@pytest.mark.parametrize("dots", [".", ".."])
def test_an_id_of_dots_only_is_refused_by_sync_and_import(client, member, hostile, upstream,
                                                          run_queue, dots):
    """"." and ".." are dot-segments however they are written: browsers read "%2E%2E" as ".."
    (WHATWG URL), so no href could name such a record. They are refused where ids come in."""
    synced = sync_listing(client, member, hostile, upstream, run_queue, ["fine", dots])
    assert synced["run"]["status"] == "failed"
    assert synced["run"]["errorCode"] == "sync_page_invalid", synced["run"]

    upload = client.post(f"/api/integrations/{hostile}/import", headers=member.headers, data={
        "resources_file": (io.BytesIO(f"id,n\nfine,1\n{dots},2\n".encode()), "ids.csv"),
        "model": MODEL})
    body = assert_problem(upload, 422, "import_invalid")
    assert [error["line"] for error in body["errors"]] == [3], body

    listing = client.get(f"/api/integrations/{hostile}/records", headers=member.headers)
    assert listing.get_json()["total"] == 0


def test_records_stored_with_dot_ids_before_keep_working_links(client, session, member, hostile,
                                                               live_hub):
    """Ids of dots only planted before they were refused: the link names the record for every
    RFC 3986 resolver and for requests (a browser still reads "%2E%2E" as "..", which can
    take it no further than the integration's records: "/" is always encoded)."""
    records.upsert(session, hostile, MODEL, {".": {"n": 1}, "..": {"n": 2}}, utcnow())
    session.commit()
    page = client.get(f"/api/integrations/{hostile}/records", headers=member.headers).get_json()

    for item in page["_embedded"]["inf:record"]:
        self_href = item["_links"]["self"]["href"]
        assert record_segment(hostile, self_href) == "%2E" * len(item["id"])
        assert urlsplit(urljoin(live_hub, self_href)).path == self_href
        followed = requests.get(live_hub + self_href, headers=member.headers, timeout=30)
        assert followed.status_code == 200 and followed.json()["id"] == item["id"]
