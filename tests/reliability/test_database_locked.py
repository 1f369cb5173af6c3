"""SQLite's write lock held past the busy timeout (docs/security.md, "The hub's database
going away").

SQLite lets one writer in at a time; another waits up to ``HUB_DATABASE_BUSY_TIMEOUT``
and then gets "database is locked". That is the database being unavailable for a moment,
not a bug: the answer is 503 ``database_unavailable`` with ``Retry-After``, nothing of the
refused write is kept, and the next write once the lock is free succeeds.
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.engine import make_url

from integration_hub import create_app
from tests.conftest import make_settings
from tests.secret_watch import WatchedClient


@pytest.fixture
def hub(backend, app, tmp_path):
    """A second hub on the test's database that waits for the write lock only half a second.
    The write lock is SQLite's; PostgreSQL's outage is test_database_outage.py."""
    if backend != "sqlite":
        pytest.skip("the database-wide write lock is SQLite's case")
    second = create_app(make_settings(app.config["HUB_SETTINGS"].database_url, tmp_path,
                                      HUB_DATABASE_BUSY_TIMEOUT="0.5"))
    second.test_client_class = WatchedClient
    yield second
    second.extensions["integration_hub.db"].kw["bind"].dispose()


def test_a_write_lock_held_past_the_busy_timeout_answers_503(app, hub, make_caller):
    caller = make_caller("ada")
    client = hub.test_client()
    assert client.get("/api/tokens", headers=caller.headers).status_code == 200
    other_writer = sqlite3.connect(make_url(app.config["HUB_SETTINGS"].database_url).database,
                                   isolation_level=None)
    other_writer.execute("BEGIN IMMEDIATE")
    try:
        refused = client.post("/api/tokens", headers=caller.headers, json={"name": "refused"})
    finally:
        other_writer.execute("ROLLBACK")
        other_writer.close()
    accepted = client.post("/api/tokens", headers=caller.headers, json={"name": "accepted"})

    assert refused.status_code == 503, refused.get_data(as_text=True)
    assert refused.get_json()["code"] == "database_unavailable"
    assert int(refused.headers["Retry-After"]) >= 1
    assert accepted.status_code == 201, accepted.get_data(as_text=True)
    listed = client.get("/api/tokens", headers=caller.headers).get_json()
    names = [token["name"] for token in listed["_embedded"]["inf:token"]]
    assert "refused" not in names and "accepted" in names
