"""The proxy's request log is written in batches by a thread of each process: rows reach
the database without anyone asking, a row that cannot be stored does not take its batch
with it, and an interval of 0 writes each row with its call."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import select, text

from integration_hub.db.models import ProxyRequest
from integration_hub.proxy import request_log
from integration_hub.proxy.request_log import CallRecord, RequestLogBuffer


def _rows(session, integration_id: str) -> list[ProxyRequest]:
    session.rollback()  # a fresh snapshot (SQLite keeps one per read transaction)
    return list(session.scalars(select(ProxyRequest).where(
        ProxyRequest.integration_id == integration_id)))


def _record(integration_id: str, path: str) -> CallRecord:
    return CallRecord(integration_id=integration_id, username="mia", method="GET", path=path,
                      status=200, bytes_received=7)


def test_rows_reach_the_database_on_their_own(app, make_integration, session):
    integration = make_integration("Threaded")
    buffer = RequestLogBuffer(app.extensions["integration_hub.db"], interval=0.1)
    buffer.add(_record(integration, "/v1/items"), 4)

    deadline = time.monotonic() + 10
    while not (rows := _rows(session, integration)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(r.path, r.status, r.username) for r in rows] == [("/v1/items", 200, "mia")]


def test_a_row_that_cannot_be_stored_does_not_take_its_batch_with_it(app, make_integration,
                                                                     session, caplog):
    integration = make_integration("Kept")
    buffer = RequestLogBuffer(app.extensions["integration_hub.db"], interval=3600)
    buffer.add(_record(integration, "/a"), 5)
    buffer.add(_record(str(uuid.uuid4()), "/gone"), 5)  # its integration was deleted meanwhile
    buffer.add(_record(integration, "/b"), 5)
    buffer.flush()

    assert sorted(r.path for r in _rows(session, integration)) == ["/a", "/b"]
    assert "could not record a proxied call" in caplog.text


def test_interval_zero_writes_with_the_call(app, make_integration, session):
    integration = make_integration("Immediate")
    buffer = RequestLogBuffer(app.extensions["integration_hub.db"], interval=0)
    buffer.add(_record(integration, "/now"), 3)
    assert [(r.path, r.duration_ms, r.bytes_received) for r in _rows(session, integration)] == [
        ("/now", 3, 7)]


def test_rows_keep_the_time_of_their_call(app, make_integration, session):
    integration = make_integration("Timed")
    buffer = RequestLogBuffer(app.extensions["integration_hub.db"], interval=3600)
    buffer.add(_record(integration, "/first"), 1)
    time.sleep(0.05)
    buffer.add(_record(integration, "/second"), 1)
    time.sleep(0.3)
    flushed_after = time.time()
    buffer.flush()
    rows = sorted(_rows(session, integration), key=lambda r: r.created_at)
    assert [r.path for r in rows] == ["/first", "/second"]
    assert rows[-1].created_at.timestamp() < flushed_after - 0.2


def test_the_log_lists_a_call_at_the_first_read(client, admin, upstream, make_integration):
    # The read right after the call: the endpoint writes the waiting rows, then lists them
    # from a snapshot taken after that write (SQLite keeps one per read transaction).
    integration = make_integration(
        "Upstream", type="custom", auth_type="apikey", api_base_uri=f"{upstream.url}/v1",
        api_key="integration-key-8")
    answer = client.get(f"/api/integrations/{integration}/request/items", headers=admin.headers)
    assert answer.status_code == 200 and answer.get_data()
    answer.close()

    page = client.get(f"/api/integrations/{integration}/requests", headers=admin.headers)
    assert [(r["path"], r["status"]) for r in page.get_json()["_embedded"]["inf:proxy-request"]] \
        == [("/v1/items", 200)]


def test_a_batched_row_is_stored_as_the_orm_stores_one(app, make_integration, session,
                                                       monkeypatch):
    """The writer inserts through the driver: every column must hold what an ORM insert of
    the same row holds, down to the stored text of its time (which orders the log)."""
    integration = make_integration("Stored alike")
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    record = CallRecord(integration_id=integration, username="mia", method="PATCH",
                        path="/v1/ünï?x=", status=None, error="upstream_timeout",
                        bytes_sent=3, bytes_received=0)
    session.add(ProxyRequest(id="orm-row", integration_id=integration, username="mia",
                             method="PATCH", path="/v1/ünï?x=", status=None,
                             error="upstream_timeout", duration_ms=9, bytes_sent=3,
                             bytes_received=0, created_at=at))
    session.commit()
    buffer = RequestLogBuffer(app.extensions["integration_hub.db"], interval=3600)
    monkeypatch.setattr(request_log, "utcnow", lambda: at)
    buffer.add(record, 9)
    buffer.flush()

    stored = session.execute(text(
        "SELECT id, integration_id, username, method, path, status, error, duration_ms, "
        "bytes_sent, bytes_received, CAST(created_at AS TEXT) FROM proxy_requests "
        "WHERE integration_id = :integration ORDER BY id = 'orm-row'"),
        {"integration": integration}).all()
    [(_, *batched), (_, *by_orm)] = stored
    assert batched == by_orm
    [row] = [r for r in _rows(session, integration) if r.id != "orm-row"]
    assert row.created_at == at
