"""Fixtures of the security tests.

The end-to-end fixtures (the hub served over HTTP, headless Chromium) are shared with
tests/e2e. For the outbound policy: ``guarded`` is a second hub on the test's database with
``HUB_PROXY_DENY_PRIVATE=true``; ``listener`` a loopback listener counting the connections it
accepted (tests/support/listener.py), ``listen`` for more of them; ``dns`` a stand-in for the system resolver
(tests/support/dns.py); ``attacker_server`` a local HTTP server an attacker points an
integration at (tests/support/upstream.py).
"""

import pytest

from integration_hub import create_app
from tests.conftest import flush_queue, make_settings
from tests.e2e.conftest import browser, live_hub, page, serve_wsgi  # noqa: F401
from tests.secret_watch import WatchedClient
from tests.support.dns import FakeDns
from tests.support.listener import Answer, Listener, start_listener
from tests.support.upstream import start_upstream


@pytest.fixture
def dns(monkeypatch):
    return FakeDns(monkeypatch)


@pytest.fixture
def listen():
    """Factory: a listener answering ``answer`` (tests/support/listener.py), stopped after the
    test."""
    started = []

    def make(answer: Answer | None = None) -> Listener:
        started.append(start_listener(answer))
        return started[-1]

    yield make
    for listener in started:
        listener.stop()


@pytest.fixture
def listener(listen):
    return listen()


@pytest.fixture(scope="module")
def guarded_hub(migrated_app, tmp_path_factory):
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url,
                             tmp_path_factory.mktemp("guarded"), HUB_PROXY_DENY_PRIVATE="true")
    hub = create_app(settings)
    hub.test_client_class = WatchedClient
    yield hub
    hub.extensions["integration_hub.db"].kw["bind"].dispose()  # its database connections


@pytest.fixture
def guarded(app, guarded_hub):
    """A second hub on the same database with the outbound policy on."""
    yield guarded_hub
    guarded_hub.extensions["integration_hub.request_log"].flush()  # before the rows go
    flush_queue(guarded_hub)


@pytest.fixture(scope="module")
def attacker_server():
    """A real local HTTP server standing for a host an attacker points an integration at;
    it records what reaches it."""
    server = start_upstream()
    yield server
    server.stop()
