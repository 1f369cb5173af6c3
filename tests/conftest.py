"""Shared fixtures: the hub on a real database (SQLite and PostgreSQL), built by migrations.

API tests run once per database backend. A backend that is not reachable is
skipped with the reason, unless HUB_REQUIRE_ALL=1 (CI), where it fails.
"""

from __future__ import annotations

import gc
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from integration_hub import create_app
from integration_hub.config import Settings
from integration_hub.db import Base, migrations
from integration_hub.db.session import db_session
from integration_hub.identity import directory as identity
from integration_hub.proxy.request_log import RequestLogBuffer
from integration_hub.queue import job_queue
from tests import factories
from tests.secret_watch import WATCH, WatchedClient
from tests.support.oauth_server import node_available, start_oauth_server
from tests.support.receiver import start_receiver
from tests.support.upstream import start_upstream
from tests.support.workers import worker_name

REQUIRE_ALL = os.environ.get("HUB_REQUIRE_ALL") == "1"
POSTGRES_ADMIN_URL = os.environ.get("HUB_TEST_POSTGRES_URL",
                                    "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_KEY = Fernet.generate_key().decode()
BACKENDS = ("sqlite", "postgresql")


def missing_component(reason: str) -> None:
    """Skip locally, fail in CI: a test must never pass by not running."""
    if REQUIRE_ALL:
        pytest.fail(f"HUB_REQUIRE_ALL=1 but {reason}")
    pytest.skip(reason)


def _postgres_admin():
    import psycopg

    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        missing_component(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}")


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def postgres_database():
    """Fresh, empty PostgreSQL databases for this run (named after this worker, as each
    parallel worker makes its own); dropped afterwards."""
    created = []

    def create() -> str:
        name = f"{worker_name('ihub_test')}_{uuid.uuid4().hex[:12]}"
        with _postgres_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return _with_database(POSTGRES_ADMIN_URL, name)

    yield create
    if created:
        with _postgres_admin() as admin:
            for name in created:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def new_database_url(tmp_path_factory, postgres_database):
    """Factory: an empty database of the given backend."""

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'hub.db'}"
        return postgres_database()

    return make


def make_settings(database_url: str, instance_path, **env: str) -> Settings:
    return Settings.from_env({
        "DATABASE_URL": database_url,
        "SECRET_KEY": "tK9vQ2wX7mPz4Lr8Jb3Nc6Hd1Fg5Ys0A-test",
        "HUB_ENCRYPTION_KEYS": TEST_KEY,
        "HUB_INSTANCE_PATH": str(instance_path),
        # The request log's thread writes only when a test asks (the request-log endpoint,
        # the app fixture between tests): tests arrange data in sessions that read, then
        # write, and SQLite refuses such a write when another connection committed in
        # between. The hub's own writes take the write lock first; tests/api/
        # test_request_log.py runs the thread with a short interval.
        "HUB_REQUEST_LOG_FLUSH": "3600",
        **env,
    })


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def migrated_app(backend, new_database_url, tmp_path_factory):
    url = new_database_url(backend)
    settings = make_settings(url, tmp_path_factory.mktemp("instance"))
    migrations.upgrade(settings.database_url)
    app = create_app(settings)
    app.test_client_class = WatchedClient
    yield app
    # Rows of calls whose answers are closed late (by the garbage collector), written
    # while their databases still exist: this app's, and those of apps single tests made.
    gc.collect()
    for buffer in [o for o in gc.get_objects() if isinstance(o, RequestLogBuffer)]:
        buffer.flush()


SIGN_IN_WINDOW = 900  # HUB_LOGIN_WINDOW's default, in seconds
SIGN_IN_MARGIN = 45  # longer than a test counting sign-ins takes on a loaded machine


@pytest.fixture
def one_sign_in_window():
    """For a test that counts sign-ins up to the throttle's limit over real time: the
    throttle counts in fixed windows (identity/login_throttle.py), and a count split by a
    window's end starts again. Less than a margin before the end, the test waits for the
    next window (a loaded machine, parallel workers among others, makes such a test take
    seconds)."""
    left = SIGN_IN_WINDOW - time.time() % SIGN_IN_WINDOW
    if left < SIGN_IN_MARGIN:
        time.sleep(left + 0.1)


@pytest.fixture(scope="session", autouse=True)
def _watch_logs_for_secrets():
    root = logging.getLogger()
    root.addHandler(WATCH)
    yield
    root.removeHandler(WATCH)


@pytest.fixture(autouse=True)
def _no_secret_leaves_the_hub():
    """Fails the test when an answer or log line carried a secret sent to the hub,
    or an answer had a broken link (undocumented relation, wrong templated flag)."""
    WATCH.take_leaks()
    yield
    leaks = WATCH.take_leaks()
    assert not leaks, "answers the hub must not give:\n" + "\n".join(leaks)


@pytest.fixture
def app(migrated_app):
    """The hub on a migrated database; every table and the task queue are emptied after
    the test."""
    yield migrated_app
    migrated_app.extensions["integration_hub.request_log"].flush()
    flush_queue(migrated_app)
    with migrated_app.app_context():
        session = db_session()
        # DELETE rather than TRUNCATE: on tables this small it is many times faster.
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())
        session.commit()


def flush_queue(hub) -> None:
    """Forget every task waiting in the hub's queues (webhook deliveries have their own)."""
    for huey in job_queue(hub).queues:
        huey.flush()


def drain_queue(hub) -> int:
    """Run every task waiting in the hub's real queues, in this process, until none is left
    (a task may queue others); answers how many."""
    done = 0
    while True:
        ran = done
        for huey in job_queue(hub).queues:
            while (task := huey.dequeue()) is not None:
                huey.execute(task)
                done += 1
        if done == ran:
            return done


@pytest.fixture
def run_queue(app):
    """Runs every task waiting in the hub's real queue, in this process; answers how many."""
    return lambda: drain_queue(app)


@pytest.fixture
def client(app):
    return app.test_client()


def _new_session(app):
    """A session of its own, outside any app context, so requests made by the
    test client never share it (or ``flask.g``) with the test."""
    return app.extensions["integration_hub.db"]()


@pytest.fixture
def session(app):
    """A database session for arranging and checking state."""
    with _new_session(app) as own:
        yield own


@dataclass
class Caller:
    username: str
    token: str
    tenant: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_caller(app):
    """Factory: a user with an API token in a tenant (created as needed)."""

    def make(username: str = "someone", tenant: str = "default", **values) -> Caller:
        with _new_session(app) as session:
            user = factories.user(session, username, tenant=tenant, **values)
            token = factories.token(session, user)
            session.commit()
        return Caller(username, token, tenant)

    return make


@pytest.fixture
def make_integration(app, admin):
    """Factory: an integration created by the ``admin`` caller, then owned by ``owner``
    (a username or team:<slug>) and shared as ``shares`` {principalId: level}."""

    def make(name: str = "Example API", owner: str | None = None,
             shares: dict[str, int] | None = None, **values) -> str:
        WATCH.remember(values.get(f) for f in ("client_secret", "api_key", "credentials"))
        with app.app_context(), _new_session(app) as session:
            creator = identity.get_user(session, admin.tenant, admin.username)
            created = factories.integration(session, creator, name, **values)
            if owner:
                created.owner_id = owner
            for principal_id, level in (shares or {}).items():
                factories.share(session, created, principal_id, level)
            session.commit()
            return created.id

    return make


REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def oauth_server_process():
    """A real OAuth2 authorization server (oauth2-mock-server) for the whole run."""
    reason = node_available(REPO_ROOT)
    if reason:
        missing_component(reason)
    server = start_oauth_server(REPO_ROOT)
    yield server
    server.stop()


@pytest.fixture
def oauth_server(oauth_server_process):
    """The authorization server with recordings and queued behaviours cleared."""
    oauth_server_process.reset()
    yield oauth_server_process
    oauth_server_process.reset()


@pytest.fixture
def oauth_integration(make_integration, oauth_server):
    """Factory: an OAuth2 integration pointing at the real test authorization server."""

    def make(name: str = "Test Provider", **values) -> str:
        settings = {"type": "test-provider", "auth_type": "oauth2",
                    "auth_uri": oauth_server.authorize_url, "token_uri": oauth_server.token_url,
                    "user_info_uri": oauth_server.userinfo_url,
                    "revocation_uri": oauth_server.revoke_url,
                    "api_base_uri": oauth_server.issuer, "client_id": "hub-client",
                    "client_secret": "hub-client-secret-value", "scope": "openid email",
                    **values}
        return make_integration(name, **settings)

    return make


@pytest.fixture(scope="session")
def upstream_server():
    """A real local HTTP server recording what the proxy sends (tests/support/upstream.py)."""
    server = start_upstream()
    yield server
    server.stop()


@pytest.fixture
def upstream(upstream_server):
    upstream_server.reset()
    yield upstream_server
    upstream_server.reset()


STORAGE_TOKEN = "storage-bearer-token-2231"


@pytest.fixture
def storage(make_integration, upstream):
    """Factory: a storage integration of a catalogue type (google-drive, onedrive, sharepoint,
    dropbox, box) on the recording upstream under ``base``, with a shared bearer token and
    ``data``; shared with mia."""
    def make(type_: str, base: str, **data) -> str:
        return make_integration(f"Files {type_}", type=type_, auth_type="bearer", mode="shared",
                                api_key=STORAGE_TOKEN, api_base_uri=f"{upstream.url}{base}",
                                shares={"mia": 1}, data=data)
    return make


@pytest.fixture(scope="session")
def receiver_server():
    """A real local webhook receiver checking signatures (tests/support/receiver.py)."""
    server = start_receiver()
    yield server
    server.stop()


@pytest.fixture
def receiver(receiver_server):
    receiver_server.reset()
    yield receiver_server
    assert not receiver_server.errors, receiver_server.errors
    receiver_server.reset()


@pytest.fixture
def make_webhook(client, admin, receiver):
    """Factory: a webhook created over the API by ``admin``, sending to the receiver at
    ``path`` with a known secret (checked by the receiver); answers the webhook's body."""

    def make(events=("*",), path: str = "/hook", secret: str | None = None, **values) -> dict:
        secret = secret or f"whsec-{uuid.uuid4().hex}"
        WATCH.remember([secret])
        receiver.expect_secret(path, secret)
        answer = client.post("/api/webhooks", headers=admin.headers, json={
            "url": receiver.url(path), "events": list(events), "secret": secret, **values})
        assert answer.status_code == 201, answer.get_data(as_text=True)
        return answer.get_json()

    return make


@pytest.fixture
def admin(make_caller) -> Caller:
    return make_caller("root", superuser=True, display_name="Root Admin")


@pytest.fixture
def member(make_caller) -> Caller:
    return make_caller("mia", display_name="Mia Member", email="mia@example.com")
