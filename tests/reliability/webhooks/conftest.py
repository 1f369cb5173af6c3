"""Fixtures of the webhook reliability tests: receivers that answer as slowly as they like.

``hub`` is a second hub on the test's database whose receivers have ``TIMEOUT`` seconds for a
whole attempt (``HUB_WEBHOOK_TIMEOUT``), with a queue of its own; ``hub_client`` calls it.
``slow_receiver(pause, size)`` starts a loopback server (tests/support/trickle.py) that
reads a request, then sends a 200 answer of about ``size`` bytes one byte every ``pause``
seconds, head first: every single read the hub makes gets a byte long before a per-read
timeout, so only a deadline for the whole attempt ends it. ``webhook_to(server)`` registers
a webhook of the ``admin`` caller sending there.
"""

from __future__ import annotations

import uuid

import pytest

from integration_hub import create_app
from tests.conftest import flush_queue, make_settings
from tests.secret_watch import WATCH, WatchedClient
from tests.support.trickle import start_trickle

TIMEOUT = 2.0  # seconds a receiver has for a whole attempt, on ``hub``


def trickled_answer(size: int) -> bytes:
    body = b"o" * max(2, size - 40)
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body


@pytest.fixture
def slow_receiver():
    started = []

    def make(pause: float = 1.0, size: int = 60, phase: str = "head"):
        started.append(start_trickle(phase, trickled_answer(size), pause))
        return started[-1]

    yield make
    for server in started:
        server.hang_up()
        server.stop()


@pytest.fixture(scope="module")
def impatient_hub(migrated_app, tmp_path_factory):
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url,
                             tmp_path_factory.mktemp("impatient"), HUB_WEBHOOK_TIMEOUT=str(TIMEOUT))
    hub = create_app(settings)
    hub.test_client_class = WatchedClient
    yield hub
    hub.extensions["integration_hub.db"].kw["bind"].dispose()  # its database connections


@pytest.fixture
def hub(app, impatient_hub):
    yield impatient_hub
    flush_queue(impatient_hub)


@pytest.fixture
def hub_client(hub):
    return hub.test_client()


@pytest.fixture
def webhook_to(hub_client, admin):
    """Factory: a webhook of ``admin``'s tenant (or of ``caller``'s) sending to ``server``;
    answers its id."""

    def make(server, events=("*",), caller=None, path: str = "/hook") -> str:
        secret = f"whsec-{uuid.uuid4().hex}"
        WATCH.remember([secret])
        answer = hub_client.post("/api/webhooks", headers=(caller or admin).headers, json={
            "url": f"{server.url}{path}", "events": list(events), "secret": secret})
        assert answer.status_code == 201, answer.get_data(as_text=True)
        return answer.get_json()["id"]

    return make
