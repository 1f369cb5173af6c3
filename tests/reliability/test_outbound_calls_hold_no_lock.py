"""While the hub waits for an upstream, a provider or an integration's database, its own
database is free; and an upstream's answer has a deadline for all of it, not only for each
read (docs/security.md, "The hub's database while it waits" and "Outbound deadlines").

The proxy, a sync page, the OAuth callback's code exchange and a database integration's
schema and connection test each used to keep the read transaction of their request open
while the other side answered: on PostgreSQL a pooled connection ``idle in transaction``,
on SQLite a snapshot pinning the write-ahead log. Here the other side is real and slow on
purpose; while it makes the hub wait, the test asks the database itself whether anything is
held, and another tenant creates an API token.

A server sending its answer's head one byte a second satisfies every per-read timeout; the
proxy now ends at the integration's timeout for the whole head, and a sync page at
``HUB_SYNC_PAGE_TIMEOUT`` for all of it, both with ``upstream_timeout``.
"""

from __future__ import annotations

import pytest

from integration_hub import create_app
from tests.api.test_connect_flow import back_to_hub, to_provider
from tests.conftest import drain_queue, flush_queue, make_settings
from tests.reliability.test_waiting_holds_no_lock import SLOW, another_tenant_writes, in_background
from tests.secret_watch import WatchedClient
from tests.support.fake_mysql import SilentServer
from tests.support.hub_database import wait_until
from tests.support.problems import assert_problem
from tests.support.trickle import start_trickle
from tests.support.upstream import Behaviour

PASSWORD = "a long enough password to sign in"
API_KEY = "slow-upstream-api-key-4711"
SYNC = {"model": "contacts", "path": "/contacts", "itemsPath": "data",
        "pagination": {"style": "cursor", "cursorPath": "meta.next"}}
PAGE = b'{"data": [{"id": 1}, {"id": 2}], "meta": {"next": null}}'
DEADLINE = 2  # seconds: the proxy's and a sync page's whole answer, in the deadline tests
PAUSE = 0.5   # seconds between two bytes of a trickling server (its answer takes far longer)


@pytest.fixture
def other(make_caller):
    return make_caller("olga", tenant="elsewhere")


@pytest.fixture
def trickle():
    started = []

    def make(phase: str, answer: bytes):
        started.append(start_trickle(phase, answer, PAUSE))
        return started[-1]

    yield make
    for server in started:
        server.hang_up()
        server.stop()


def json_answer(body: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % len(body)) + body


def api_integration(make_integration, base: str, **data) -> str:
    return make_integration("Slow API", type="custom", auth_type="apikey", mode="shared",
                            api_base_uri=f"{base}/v1", api_key=API_KEY, shares={"mia": 2},
                            data=data)


# -- no transaction open while waiting ------------------------------------------------------------

@pytest.mark.parametrize("door", ["raw", "envelope"])
def test_a_slow_proxied_call_holds_nothing(app, client, admin, member, other, upstream,
                                           make_integration, door):
    integration = api_integration(make_integration, upstream.url)
    upstream.respond("/v1/slow", Behaviour(delay=SLOW, json={"ok": True}))

    def call(own):
        if door == "raw":
            return own.get(f"/api/integrations/{integration}/request/slow",
                           headers=member.headers)
        return own.post(f"/api/integrations/{integration}/request", headers=member.headers,
                        json={"url": "/slow", "envelope": True})

    with in_background(app, [call]) as answers:
        wait_until(lambda: upstream.requests("/v1/slow"), "the proxied request")
        another_tenant_writes(client, other)

    assert answers[0].status_code == 200, answers[0].get_data(as_text=True)
    body = answers[0].get_json()
    assert (body if door == "raw" else body["data"]) == {"ok": True}
    logged = client.get(f"/api/integrations/{integration}/requests", headers=admin.headers)
    assert [row["status"] for row in logged.get_json()["_embedded"]["inf:proxy-request"]] == [200]


def test_a_slow_sync_page_holds_nothing(app, client, member, other, upstream, make_integration):
    integration = api_integration(make_integration, upstream.url, sync=SYNC)
    upstream.respond("/v1/contacts", Behaviour(delay=SLOW, body=PAGE,
                                               headers=[("Content-Type", "application/json")]))
    triggered = client.post(f"/api/integrations/{integration}/sync", headers=member.headers)
    assert triggered.status_code == 202, triggered.get_data(as_text=True)

    with in_background(app, [lambda _own: drain_queue(app)]):
        wait_until(lambda: upstream.requests("/v1/contacts"), "the page request")
        another_tenant_writes(client, other)

    run = client.get(triggered.get_json()["_links"]["self"]["href"], headers=member.headers)
    assert run.get_json()["status"] == "succeeded", run.get_json()
    assert run.get_json()["fetched"] == 2


def test_a_slow_code_exchange_in_the_callback_holds_nothing(app, client, make_caller, other,
                                                           oauth_server, oauth_integration):
    mia = make_caller("mia", password=PASSWORD)
    integration = oauth_integration(shares={"mia": 1})
    browser = app.test_client()
    started = browser.get(f"/api/integrations/{integration}/connect", headers=mia.headers)
    assert started.status_code == 302, started.get_data(as_text=True)
    assert browser.post("/api/login", json={"username": "mia",
                                            "password": PASSWORD}).status_code == 200
    to_hub = to_provider(browser.get(started.headers["Location"]).headers["Location"])
    oauth_server.queue_token_responses({"delayMs": int(SLOW * 1000)})
    browser.delete_cookie("ihub_session")  # signed out meanwhile: the flow's cookie suffices

    with in_background(app, [lambda _own: back_to_hub(browser, to_hub)]) as answers:
        wait_until(lambda: oauth_server.requests("/token"), "the token request")
        another_tenant_writes(client, other)

    assert answers[0].status_code == 200, answers[0].get_data(as_text=True)
    assert 'data-status="connected"' in answers[0].get_data(as_text=True)
    connection = client.get(f"/api/integrations/{integration}/connection", headers=mia.headers)
    assert connection.status_code == 200, connection.get_data(as_text=True)
    again = back_to_hub(browser, to_hub)  # the flow is still spent exactly once
    assert again.status_code == 400 and "<code>state_reused</code>" in again.get_data(as_text=True)


@pytest.mark.parametrize("operation", ["schema", "test"])
def test_a_silent_database_holds_nothing(app, client, member, other, make_integration,
                                         operation):
    with SilentServer() as silent:
        integration = make_integration(
            "Silent DB", type="postgresql", auth_type="none", mode="shared", api_base_uri=None,
            credentials={"password": "pw-for-the-silent-server"}, shares={"mia": 1},
            data={"host": silent.host, "port": silent.port, "database": "shop",
                  "username": "reader", "options": {"connect_timeout": int(SLOW)}})

        def call(own):
            if operation == "schema":
                return own.get(f"/api/integrations/{integration}/schema", headers=member.headers)
            return own.post(f"/api/integrations/{integration}/test", headers=member.headers)

        with in_background(app, [call]) as answers:
            wait_until(lambda: silent.accepted, "the connection to the database")
            another_tenant_writes(client, other)

    if operation == "schema":
        assert_problem(answers[0], 504, "database_timeout")
    else:
        assert answers[0].status_code == 200, answers[0].get_data(as_text=True)
        assert answers[0].get_json()["code"] == "database_timeout"


# -- deadlines for a whole answer -----------------------------------------------------------------

@pytest.mark.parametrize("door", ["raw", "envelope"])
def test_a_trickling_answer_head_ends_the_proxied_call_at_the_deadline(
        app, client, admin, member, make_integration, trickle, door):
    server = trickle("head", json_answer(b'{"ok": true}'))
    integration = api_integration(make_integration, server.url, timeout=DEADLINE)

    if door == "raw":
        answer = client.get(f"/api/integrations/{integration}/request/slow",
                            headers=member.headers)
    else:
        answer = client.post(f"/api/integrations/{integration}/request",
                             headers=member.headers, json={"url": "/slow"})

    assert_problem(answer, 504, "upstream_timeout")
    assert server.outcomes() == ["hung-up"]
    logged = client.get(f"/api/integrations/{integration}/requests", headers=admin.headers)
    assert [row["error"] for row in logged.get_json()["_embedded"]["inf:proxy-request"]] == [
        "upstream_timeout"]


def test_a_streamed_body_has_a_timeout_per_read_not_for_all_of_it(backend, client, member,
                                                                  make_integration, trickle):
    if backend != "sqlite":
        pytest.skip("reading an upstream's body does not touch the hub's database: SQLite only")
    body = b'{"ok":true}'
    server = trickle("body", json_answer(body))
    # The body alone takes longer than the head's deadline: it passes all the same.
    assert len(body) * server.pause > 2 * DEADLINE
    integration = api_integration(make_integration, server.url, timeout=DEADLINE)

    answer = client.get(f"/api/integrations/{integration}/request/slow", headers=member.headers)

    assert answer.status_code == 200
    assert answer.get_data() == body
    assert server.outcomes() == ["finished"]


@pytest.fixture(scope="module")
def impatient_hub(migrated_app, tmp_path_factory):
    """A second hub on the test's database whose sync pages have ``DEADLINE`` seconds."""
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url,
                             tmp_path_factory.mktemp("impatient-sync"),
                             HUB_SYNC_PAGE_TIMEOUT=str(DEADLINE))
    hub = create_app(settings)
    hub.test_client_class = WatchedClient
    yield hub
    hub.extensions["integration_hub.db"].kw["bind"].dispose()


@pytest.mark.parametrize("phase", ["head", "body"])
def test_a_trickling_sync_page_fails_the_run_at_the_deadline(app, impatient_hub, member,
                                                            make_integration, trickle, phase):
    server = trickle(phase, json_answer(PAGE))
    integration = api_integration(make_integration, server.url, sync=SYNC)
    hub = impatient_hub.test_client()
    triggered = hub.post(f"/api/integrations/{integration}/sync", headers=member.headers)
    assert triggered.status_code == 202, triggered.get_data(as_text=True)
    try:
        drain_queue(impatient_hub)
    finally:
        flush_queue(impatient_hub)

    run = hub.get(triggered.get_json()["_links"]["self"]["href"], headers=member.headers)
    assert run.get_json()["status"] == "failed", run.get_json()
    assert run.get_json()["errorCode"] == "upstream_timeout", run.get_json()
    assert server.outcomes() == ["hung-up"]
    records = hub.get(f"/api/integrations/{integration}/records", headers=member.headers,
                      query_string={"model": "contacts"})
    assert records.get_json()["total"] == 0
