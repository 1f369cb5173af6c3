"""The hub's own PostgreSQL going away under load (docs/security.md, "The hub's database
going away").

The shared PostgreSQL server is never touched: a second hub reaches the test's database
through a TCP forwarder (tests/support/forwarder.py) that the test cuts, as a restart
does, and restores. During the outage every request answers 503 ``database_unavailable``
with ``Retry-After``; afterwards the same hub serves again without a restart; and a write
the outage interrupted halfway left nothing behind. A pool with no free connection in time
answers the same.
"""

from __future__ import annotations

import threading

import psycopg
import pytest
from sqlalchemy.engine import make_url

from integration_hub import create_app
from integration_hub.db.session import make_engine
from tests.conftest import make_settings
from tests.secret_watch import WatchedClient
from tests.support.forwarder import start_forwarder
from tests.support.hub_database import plain_url, wait_until


@pytest.fixture
def forwarder(backend, migrated_app):
    """A server that goes away and comes back is PostgreSQL; SQLite's own way of being
    unavailable (its write lock) is tests/reliability/test_database_locked.py."""
    if backend != "postgresql":
        pytest.skip("a database server that goes away is PostgreSQL's case")
    url = make_url(migrated_app.config["HUB_SETTINGS"].database_url)
    started = start_forwarder(url.host, url.port)
    yield started
    started.stop()


@pytest.fixture
def hub(app, forwarder, tmp_path):
    """A second hub on the test's database, reaching it through the forwarder."""
    url = make_url(app.config["HUB_SETTINGS"].database_url)
    through = url.set(host="127.0.0.1", port=forwarder.port).render_as_string(hide_password=False)
    second = create_app(make_settings(through, tmp_path))
    second.test_client_class = WatchedClient
    yield second
    second.extensions["integration_hub.db"].kw["bind"].dispose()


@pytest.fixture
def admin_sql(app):
    """A connection of the test's own to its database, around the forwarder."""
    with psycopg.connect(plain_url(app.config["HUB_SETTINGS"].database_url),
                         autocommit=True) as connection:
        yield connection


def assert_unavailable(answer) -> None:
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["code"] == "database_unavailable"
    assert int(answer.headers["Retry-After"]) >= 1


def token_names(admin_sql) -> list[str]:
    return [name for (name,) in admin_sql.execute("SELECT name FROM api_tokens ORDER BY name")]


def test_an_outage_answers_503_and_the_hub_recovers_by_itself(hub, forwarder, make_caller,
                                                               admin_sql):
    caller = make_caller("ada")
    client = hub.test_client()
    assert client.get("/api/tokens", headers=caller.headers).status_code == 200

    forwarder.cut()
    during = [client.get("/api/tokens", headers=caller.headers),
              client.post("/api/tokens", headers=caller.headers, json={"name": "during"}),
              client.get("/api", headers=caller.headers),
              client.post("/api/tokens", headers=caller.headers, json={"name": "during-2"})]
    forwarder.restore()
    after = client.post("/api/tokens", headers=caller.headers, json={"name": "after"})

    for answer in during:
        assert_unavailable(answer)
    assert after.status_code == 201, after.get_data(as_text=True)
    assert "during" not in token_names(admin_sql) and "after" in token_names(admin_sql)


def test_a_write_cut_off_halfway_leaves_nothing(hub, forwarder, make_caller, admin_sql):
    caller = make_caller("ada")
    client = hub.test_client()
    assert client.get("/api/tokens", headers=caller.headers).status_code == 200
    answers = []
    # Creating a token writes the token, then its audit entry, in one transaction: the test
    # holds the audit table, so the write stops halfway, and the outage comes then.
    admin_sql.execute("BEGIN")
    admin_sql.execute("LOCK TABLE audit_entries IN SHARE MODE")
    writer = threading.Thread(target=lambda: answers.append(client.post(
        "/api/tokens", headers=caller.headers, json={"name": "halfway"})))
    writer.start()
    try:
        waiting = wait_until(lambda: admin_sql.execute(
            "SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'audit_entries' AND NOT l.granted").fetchone(),
            "the token's audit entry to wait for the table")
        forwarder.cut()
    finally:
        writer.join(30)
        admin_sql.execute("ROLLBACK")
    assert not writer.is_alive()
    wait_until(lambda: admin_sql.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                                         waiting).fetchone() == (0,),
               "the interrupted session to end")
    forwarder.restore()

    assert_unavailable(answers[0])
    assert "halfway" not in token_names(admin_sql)
    again = client.post("/api/tokens", headers=caller.headers, json={"name": "again"})
    assert again.status_code == 201, again.get_data(as_text=True)
    assert "again" in token_names(admin_sql)


def test_no_free_pooled_connection_answers_503(app, backend, make_caller, tmp_path):
    """Every pooled connection busy past the pool's timeout is the database being
    unavailable to this request, not a bug. A hub with a pool of one, its one
    connection held by the test."""
    if backend != "postgresql":
        pytest.skip("SQLite's pool hands each thread a connection of its own")
    caller = make_caller("ada")
    url = app.config["HUB_SETTINGS"].database_url
    small = create_app(make_settings(url, tmp_path))
    small.test_client_class = WatchedClient
    engine = make_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.5)
    small.extensions["integration_hub.db"].configure(bind=engine)
    client = small.test_client()
    try:
        with engine.connect():  # the pool's only connection, busy
            busy = client.get("/api/tokens", headers=caller.headers)
        free = client.get("/api/tokens", headers=caller.headers)
    finally:
        engine.dispose()
        small.extensions["integration_hub.db"].kw["bind"].dispose()

    assert_unavailable(busy)
    assert free.status_code == 200, free.get_data(as_text=True)
