"""The change generation (db/generations.py; docs/decisions.md, "Performance"): every committed
change to what the proxy's caches are built from moves it, in this process at once and in
every other soon after; ``last_used_at`` alone, a rollback and a dropped session do not."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import delete, insert, make_url, update

from integration_hub.db import generations
from integration_hub.db.generations import CHANNEL, LISTENER_NAME, generations_of
from integration_hub.db.models import ApiToken, Connection, Team, Tenant, User
from tests import factories
from tests.conftest import REPO_ROOT, TEST_KEY, _postgres_admin
from tests.support.hub_database import WAIT, plain_url, wait_until


def _url(app) -> str:
    return app.config["HUB_SETTINGS"].database_url


class Observer:
    """What the generation does around a change, on either database. On PostgreSQL a
    connection of its own listens too: a change must also be announced to other processes."""

    def __init__(self, app, backend: str):
        self.generations = generations_of(app)
        self.backend = backend
        self.listening = None
        if backend == "postgresql":
            import psycopg

            self.listening = psycopg.connect(plain_url(_url(app)), autocommit=True)
            self.listening.execute(f"LISTEN {CHANNEL}")
        self.database = make_url(_url(app)).database
        self.before = self.settled()

    def settled(self) -> int:
        """The generation once this process trusts it (PostgreSQL: its listener is up, and
        what was announced so far is read). SQLite after the tests' cleanup has no row until
        the next change: make one."""
        if self.backend == "sqlite" and self.generations.current() is None:
            self.mark()
        if self.listening is not None:
            self.mark()
            while "mark" not in self._announced():
                pass
        self.before = wait_until(self.generations.current, "a trusted generation")
        return self.before

    def mark(self) -> None:
        """A change made outside this process's sessions, moving the generation by one."""
        if self.backend == "sqlite":
            raw = sqlite3.connect(self.database, isolation_level=None)
            try:
                raw.execute("INSERT INTO cache_generations (id, value) VALUES (1, ?) "
                            "ON CONFLICT (id) DO UPDATE SET value = value + 1", (time.time_ns(),))
            finally:
                raw.close()
        else:
            self.listening.execute(f"SELECT pg_notify('{CHANNEL}', 'mark')")

    def _announced(self) -> list[str]:
        """What the next notification to arrive says."""
        notices = [notice.payload for notice in self.listening.notifies(timeout=WAIT,
                                                                         stop_after=1)]
        assert notices, f"nothing announced within {WAIT} s"
        return notices

    def moved(self) -> None:
        """Moved by a change this process just committed: at once, here; announced to others."""
        now = self.generations.current()
        assert now is not None and now != self.before
        if self.backend == "sqlite":  # once per transaction, however many changes it made
            assert now == self.before + 1
        if self.listening is not None:
            assert self._announced() == [""]
        self.settled()

    def still(self) -> None:
        """Not moved. On PostgreSQL nothing was announced before the mark made after it
        (notifications arrive in the order their transactions committed), so no process,
        this one included, counts a change."""
        if self.listening is not None:
            self.mark()
            assert self._announced() == ["mark"]
        else:
            assert self.generations.current() == self.before
        self.settled()

    def close(self) -> None:
        if self.listening is not None:
            self.listening.close()


@pytest.fixture
def observer(app, backend):
    watching = Observer(app, backend)
    yield watching
    watching.close()


def test_changes_through_the_unit_of_work_move_it(app, session, observer):
    user = factories.user(session, "ada")
    session.commit()
    observer.moved()
    factories.token(session, user)
    session.commit()
    observer.moved()
    user.display_name = "Ada L."
    session.commit()
    observer.moved()
    team = factories.team(session, "core", members=["ada"])
    session.commit()
    observer.moved()
    session.delete(team)
    session.commit()
    observer.moved()


def test_bulk_and_core_statements_move_it(app, session, observer):
    session.add(Tenant(id="acme", name="Acme", settings={}))
    session.commit()
    observer.moved()
    session.execute(insert(User), [{"tenant_id": "acme", "username": "bo"}])
    session.commit()
    observer.moved()
    session.execute(update(User).where(User.username == "bo").values(enabled=False))
    session.commit()
    observer.moved()
    session.execute(update(Team.__table__).values(name="renamed"))  # Core, even matching none
    session.commit()
    observer.moved()
    session.execute(delete(User).where(User.username == "bo"))
    session.commit()
    observer.moved()


def test_last_used_at_alone_does_not_move_it(app, session, observer):
    user = factories.user(session, "ada")
    factories.token(session, user)
    session.commit()
    observer.settled()
    token = session.query(ApiToken).one()
    now = datetime.now(UTC)

    token.last_used_at = now
    session.commit()
    observer.still()
    session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    session.execute(update(Connection).values(last_used_at=now))
    session.commit()
    observer.still()
    token.name = token.name  # assigned, not changed
    session.commit()
    observer.still()
    token.name = "renamed"
    session.commit()
    observer.moved()


def test_a_rolled_back_change_does_not_move_it(app, session, observer):
    factories.user(session, "ada")
    session.flush()
    session.rollback()
    observer.still()

    session.execute(insert(Tenant), [{"id": "acme", "name": "Acme", "settings": {}}])
    session.rollback()
    observer.still()


def test_a_rolled_back_savepoint_forgets_its_change_not_the_transaction_s(
        app, session, observer):
    factories.user(session, "ada")
    session.commit()
    observer.settled()
    savepoint = session.begin_nested()
    factories.user(session, "bo")
    session.flush()  # moves it inside the savepoint ...
    savepoint.rollback()  # ... and that is undone with it
    session.execute(update(User).where(User.username == "ada").values(display_name="Ada"))
    session.commit()
    observer.moved()

    session.execute(update(User).where(User.username == "ada").values(display_name="A."))
    savepoint = session.begin_nested()
    factories.user(session, "bo")
    session.flush()
    savepoint.rollback()  # the change made before the savepoint stays
    session.execute(update(User).where(User.username == "ada").values(display_name="Ada"))
    session.commit()
    observer.moved()

    with session.begin_nested():  # a released savepoint's change is the transaction's
        factories.user(session, "cy")
    savepoint = session.begin_nested()
    factories.user(session, "dee")
    session.flush()
    savepoint.rollback()
    session.execute(update(User).where(User.username == "ada").values(display_name="A."))
    session.commit()
    observer.moved()


def test_a_closed_session_starts_afresh(app, session, observer):
    factories.user(session, "ada")
    session.flush()
    session.close()  # neither committed nor rolled back by the session: dropped
    observer.still()
    factories.user(session, "bo")
    session.commit()
    observer.moved()


def test_cli_commands_move_it(app, observer):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["create-user", "ada"]).exit_code == 0
    observer.moved()
    created = runner.invoke(args=["create-token", "ada"])
    assert created.exit_code == 0, created.output
    observer.moved()


def test_a_database_in_memory_has_none():
    app = Flask(__name__)
    generations.init_app(app, "sqlite://")
    assert generations_of(app).current() is None
    generations.init_app(app, "sqlite:///:memory:")
    assert generations_of(app).current() is None


@pytest.fixture
def postgres_only(backend):
    if backend != "postgresql":
        pytest.skip("the listener exists on PostgreSQL only")


def test_a_change_by_another_process_is_seen(app, observer, postgres_only, tmp_path):
    before = observer.settled()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DATABASE_URL": plain_url(_url(app)),
           "SECRET_KEY": "tK9vQ2wX7mPz4Lr8Jb3Nc6Hd1Fg5Ys0A-test", "HUB_ENCRYPTION_KEYS": TEST_KEY,
           "HUB_INSTANCE_PATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "integration_hub", "create-user", "zed"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # docs/decisions.md promises 100 ms; the wait allows a loaded machine more (no timing
    # is asserted): what must hold is that nothing but the notification moves it here.
    wait_until(lambda: observer.generations.current() not in (None, before),
               "the other process's change")


def _listener_backends(database: str) -> list[int]:
    with _postgres_admin() as admin:
        return [pid for (pid,) in admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            (database, LISTENER_NAME)).fetchall()]


def test_while_the_listener_is_down_nothing_is_trusted(app, observer, postgres_only):
    before = observer.settled()
    database = make_url(_url(app)).database
    (listener,) = _listener_backends(database)
    with _postgres_admin() as admin:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        try:
            admin.execute("SELECT pg_terminate_backend(%s)", (listener,))
            wait_until(lambda: observer.generations.current() is None, "the listener seen down")
            assert observer.generations.current() is None  # it cannot connect meanwhile
        finally:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    after = wait_until(observer.generations.current, "the listener back")
    assert after != before  # anything may have changed while nobody listened
    assert wait_until(lambda: _listener_backends(database), "a new listener") != [listener]


def test_the_listener_ends_with_its_database(app, postgres_only, postgres_database):
    url = postgres_database()
    database = make_url(url).database
    on_it = Flask(__name__)
    generations.init_app(on_it, url.replace("postgresql://", "postgresql+psycopg://", 1))
    wait_until(generations_of(on_it).current, "a listener on the new database")
    name = f"{LISTENER_NAME} ({database})"
    assert [t for t in threading.enumerate() if t.name == name]
    with _postgres_admin() as admin:
        admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
    wait_until(lambda: not [t for t in threading.enumerate() if t.name == name],
               "the listener ended")
    assert generations_of(on_it).current() is None
