"""The request log of a real gunicorn: rows wait in each process's buffer and are all
written when the processes stop, so a graceful restart loses no proxied call."""

from __future__ import annotations

import sqlite3

import requests

from tests.support.served_hub import production_hub

CALLS = 12


def _proxy_rows(database) -> list[tuple[str, int]]:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT path, status FROM proxy_requests").fetchall()


def test_buffered_rows_are_written_when_gunicorn_stops(tmp_path, upstream):
    with production_hub(tmp_path, HUB_REQUEST_LOG_FLUSH="3600") as hub:  # only exit writes
        auth = {"Authorization": f"Bearer {hub.token}"}
        created = requests.post(f"{hub.base}/api/integrations", headers=auth, timeout=10, json={
            "name": "Recorded", "type": "custom", "authType": "apikey",
            "apiBaseUri": f"{upstream.url}/v1", "apiKey": "shared-key-41"})
        assert created.status_code == 201, created.text
        integration = created.json()["id"]
        for n in range(CALLS):  # a connection each: both processes take some
            answer = requests.get(f"{hub.base}/api/integrations/{integration}/request/items/{n}",
                                  headers={**auth, "Connection": "close"}, timeout=10)
            assert answer.status_code == 200, answer.text
        assert len(upstream.requests()) == CALLS
        assert _proxy_rows(hub.database) == []  # still in the processes' buffers

    rows = _proxy_rows(hub.database)
    assert sorted(rows) == sorted((f"/v1/items/{n}", 200) for n in range(CALLS)), \
        hub.log.read_text()[-3000:]
