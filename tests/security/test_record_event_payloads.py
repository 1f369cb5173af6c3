"""Record events reach receivers outside the hub, so their payloads name records and never
carry what the records hold; ids whatever they are made of travel as JSON strings, and a
link to one record holds its id as one percent-encoded path segment that no resolver moves
(docs/decisions.md, "Record events and batching"; docs/security.md, "Links built from
data")."""

from __future__ import annotations

import io
import json
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from integration_hub.db.session import transaction
from integration_hub.webhooks.record_events import records_changed

MODEL = "contacts"
PRIVATE = "private-value-7f3a9c"  # what a record holds, never what a payload says
AWKWARD_IDS = ["a/b", "%2F", "x%2Fy", "x/../y", "../../tokens", "..%2F..", 'say "hi"',
               "it's", "back\\slash", "ünïcødé/東京", "?q=1#frag", " spaced ", "+plus+",
               "100%", "a//b", "/leading", "trailing/", "semi;colon=1", "@host:80"]


@pytest.fixture
def integration(make_integration):
    return make_integration("Payloads", type="custom", auth_type="none", shares={"mia": 2})


def import_jsonl(client, caller, integration, items: list[dict]) -> None:
    content = "".join(json.dumps(item) + "\n" for item in items).encode()
    answer = client.post(f"/api/integrations/{integration}/import", headers=caller.headers,
                         data={"resources_file": (io.BytesIO(content), "rows.jsonl"),
                               "model": MODEL}, content_type="multipart/form-data")
    assert answer.status_code == 200, answer.get_data(as_text=True)


def delivered(receiver, run_queue):
    run_queue()
    got = receiver.deliveries()
    assert got and all(d.signature_valid for d in got)
    return got


def record_href_segment(href: str, integration: str) -> str:
    """The record id's part of a record link, checked to be one segment under the model."""
    prefix = f"http://localhost/api/integrations/{integration}/records/{MODEL}/"
    assert href.startswith(prefix), href
    segment = href[len(prefix):]
    assert "/" not in segment and "?" not in segment and "#" not in segment, href
    assert urljoin(href, ".") == prefix  # resolvers keep the record under its model
    assert urlsplit(href).path == urlsplit(prefix).path + segment
    return segment


def test_payloads_carry_ids_never_record_data(client, member, integration, receiver, run_queue,
                                              make_webhook):
    make_webhook(["record.created", "record.updated"])
    items = [{"id": record_id, "secretish": PRIVATE, "name": f"{PRIVATE}-{n}"}
             for n, record_id in enumerate(AWKWARD_IDS)]
    import_jsonl(client, member, integration, items)
    import_jsonl(client, member, integration, [{**items[0], "name": "changed " + PRIVATE}])

    got = delivered(receiver, run_queue)
    assert [d.event for d in got] == ["record.created", "record.updated"]
    for delivery in got:
        assert PRIVATE not in delivery.body.decode()
        assert set(delivery.json["data"]) == {"_links", "integration", "model", "recordIds",
                                              "count"}
    assert got[0].json["data"]["recordIds"] == AWKWARD_IDS  # exactly, as JSON strings
    assert got[1].json["data"]["recordIds"] == [AWKWARD_IDS[0]]


@pytest.mark.parametrize("record_id", AWKWARD_IDS)
def test_a_record_link_holds_the_id_as_one_encoded_segment(client, member, integration, receiver,
                                                           run_queue, make_webhook, record_id):
    make_webhook(["record.created"])
    import_jsonl(client, member, integration, [{"id": record_id, "secretish": PRIVATE}])

    (delivery,) = delivered(receiver, run_queue)
    data = delivery.json["data"]
    assert data["recordIds"] == [record_id]
    segment = record_href_segment(data["_links"]["inf:record"]["href"], integration)
    assert unquote(segment) == record_id
    followed = client.get(urlsplit(data["_links"]["inf:record"]["href"]).path,
                          headers=member.headers)
    assert followed.status_code == 200 and followed.get_json()["id"] == record_id


@pytest.mark.parametrize("record_id", [".", "..", "..."])
def test_ids_of_dots_only_are_linked_as_encoded_dots(app, integration, receiver, run_queue,
                                                     make_webhook, record_id):
    """Imports and syncs refuse "." and ".."; whoever else tells of such an id still gets a
    link that stays under the model."""
    make_webhook(["record.deleted"])
    with app.app_context(), transaction() as writing:
        records_changed(writing, "default", integration, MODEL, "record.deleted", [record_id],
                        "mia")

    (delivery,) = delivered(receiver, run_queue)
    segment = record_href_segment(delivery.json["data"]["_links"]["inf:record"]["href"],
                                  integration)
    assert segment == "%2E" * len(record_id)
