"""While the hub waits for an authorization server, its own database is free
(docs/security.md, "The hub's database while it waits").

A token refresh, a code exchange, a revocation and a profile read are calls to a server
the hub does not control: a slow one must not keep a transaction open, or every other
writer (on SQLite: every other tenant) waits behind it and fails at the busy timeout.
Here the servers are real and slow on purpose; while they make the hub wait, the test
asks the database itself whether anything is held, and another tenant creates an API
token. The refresh still happens exactly once for everyone waiting on it.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select

from integration_hub import crypto
from integration_hub.db.models import Connection
from integration_hub.db.types import utcnow
from tests.support.hub_database import held_transactions, wait_until
from tests.support.upstream import Behaviour

SLOW = 5.0  # seconds the slow server takes: far longer than anything else the test does
CALLERS = 4  # requests needing the same refresh at once


def connect(client, caller, integration, **body):
    return client.post(f"/api/integrations/{integration}/connect", headers=caller.headers,
                       json=body)


def stored_access_token(app, integration_id: str) -> str | None:
    with app.app_context(), app.extensions["integration_hub.db"]() as own:
        row = own.scalars(select(Connection)
                          .where(Connection.integration_id == integration_id)).one()
        return crypto.decrypt(row.access_token_encrypted)


@contextmanager
def in_background(app, calls):
    """Each call with a test client of its own, in its own thread, while the block runs; the
    answers (in the order they came) once all have ended."""
    answers = []

    def run(call):
        answers.append(call(app.test_client()))

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    try:
        yield answers
    finally:
        for thread in threads:
            thread.join(SLOW * 6)
    assert not any(thread.is_alive() for thread in threads), "a request did not end"


def another_tenant_writes(client, other) -> None:
    """The write that used to fail behind the waiting request: it succeeds, nothing held."""
    assert held_transactions(client.application) == []
    created = client.post("/api/tokens", headers=other.headers, json={"name": "meanwhile"})
    assert created.status_code == 201, created.get_data(as_text=True)


@pytest.fixture
def other(make_caller):
    return make_caller("olga", tenant="elsewhere")


def test_a_slow_token_refresh_holds_nothing_and_happens_once(app, client, member, other,
                                                              oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    assert connect(client, member, integration, accessToken="old-access",
                   refreshToken="old-refresh", expiresIn=0).status_code == 201
    oauth_server.reset()
    oauth_server.queue_token_responses({"delayMs": int(SLOW * 1000)})

    account = f"/api/integrations/{integration}/account?refresh=true"
    with in_background(app, [lambda own: own.get(account, headers=member.headers)] * CALLERS) \
            as answers:
        wait_until(lambda: oauth_server.requests("/token"), "the token request")
        another_tenant_writes(client, other)
        assert stored_access_token(app, integration) == "old-access"  # still refreshing

    assert [a.status_code for a in answers] == [200] * CALLERS, answers[0].get_data(as_text=True)
    assert len(oauth_server.requests("/token")) == 1
    bearers = {r["headers"]["authorization"] for r in oauth_server.requests("/userinfo")}
    assert len(bearers) == 1 and bearers != {"Bearer old-access"}


def test_a_slow_code_exchange_holds_nothing(app, client, member, other, oauth_server,
                                            oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    oauth_server.queue_token_responses({"delayMs": int(SLOW * 1000)})

    with in_background(app, [lambda own: connect(own, member, integration, code="a-code")]) \
            as answers:
        wait_until(lambda: oauth_server.requests("/token"), "the token request")
        another_tenant_writes(client, other)

    assert answers[0].status_code == 201, answers[0].get_data(as_text=True)
    assert stored_access_token(app, integration)


def test_a_slow_revocation_holds_nothing(app, client, member, other, upstream,
                                         oauth_integration):
    integration = oauth_integration(revocation_uri=f"{upstream.url}/revoke", user_info_uri=None,
                                    shares={"mia": 1})
    assert connect(client, member, integration, accessToken="an-access",
                   refreshToken="a-refresh").status_code == 201
    upstream.respond("/revoke", Behaviour(delay=SLOW, body=""))

    with in_background(app, [lambda own: own.delete(
            f"/api/integrations/{integration}/connection", headers=member.headers)]) as answers:
        wait_until(lambda: upstream.requests("/revoke"), "the revocation request")
        another_tenant_writes(client, other)

    assert answers[0].status_code == 204, answers[0].get_data(as_text=True)
    gone = client.get(f"/api/integrations/{integration}/connection", headers=member.headers)
    assert gone.status_code == 404
    assert b"token=a-refresh" in upstream.requests("/revoke")[0].body


def test_a_slow_profile_read_holds_nothing(app, client, member, other, upstream,
                                           oauth_integration):
    integration = oauth_integration(user_info_uri=f"{upstream.url}/me", shares={"mia": 1})
    upstream.respond("/me", {"json": {"sub": "first", "email": "first@example.com"}})
    assert connect(client, member, integration, accessToken="an-access").status_code == 201
    upstream.respond("/me", Behaviour(delay=SLOW, json={"sub": "2", "email": "new@example.com"}))

    with in_background(app, [lambda own: own.get(
            f"/api/integrations/{integration}/account?refresh=true", headers=member.headers)]) \
            as answers:
        wait_until(lambda: len(upstream.requests("/me")) == 2, "the profile request")
        another_tenant_writes(client, other)

    assert answers[0].status_code == 200, answers[0].get_data(as_text=True)
    assert answers[0].get_json()["email"] == "new@example.com"


def test_a_slow_health_check_holds_nothing(app, client, member, other, upstream,
                                          make_integration):
    integration = make_integration("Checked", type="custom", auth_type="apikey",
                                   mode="per-user", api_base_uri=f"{upstream.url}/v1",
                                   api_key_name="X-Key", data={"healthCheck": "/me"},
                                   shares={"mia": 1})
    upstream.respond("/v1/me", Behaviour(delay=SLOW, json={"ok": True}))

    with in_background(app, [lambda own: connect(own, member, integration,
                                                 apiKey="a-key-1234")]) as answers:
        wait_until(lambda: upstream.requests("/v1/me"), "the health check")
        another_tenant_writes(client, other)

    assert answers[0].status_code == 201, answers[0].get_data(as_text=True)


def test_connecting_again_during_a_refresh_wins_over_its_answer(app, client, member,
                                                                oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1}, user_info_uri=None)
    assert connect(client, member, integration, accessToken="old-access",
                   refreshToken="old-refresh", expiresIn=0).status_code == 201
    oauth_server.queue_token_responses({"delayMs": int(SLOW * 1000)})

    with in_background(app, [lambda own: own.post(
            f"/api/integrations/{integration}/connection/refresh", headers=member.headers)]) \
            as answers:
        wait_until(lambda: oauth_server.requests("/token"), "the token request")
        again = connect(client, member, integration, accessToken="reconnected-access",
                        refreshToken="reconnected-refresh", expiresIn=3600)
        assert again.status_code == 201, again.get_data(as_text=True)

    assert answers[0].status_code == 200, answers[0].get_data(as_text=True)
    assert stored_access_token(app, integration) == "reconnected-access"
    assert len(oauth_server.requests("/token")) == 1


def test_disconnecting_during_a_refresh_is_no_error(app, client, member, oauth_server,
                                                    oauth_integration):
    integration = oauth_integration(shares={"mia": 1}, user_info_uri=None, revocation_uri=None)
    assert connect(client, member, integration, accessToken="old-access",
                   refreshToken="old-refresh", expiresIn=0).status_code == 201
    oauth_server.queue_token_responses({"delayMs": int(SLOW * 1000)})

    with in_background(app, [lambda own: own.get(
            f"/api/integrations/{integration}/account?refresh=true", headers=member.headers)]) \
            as answers:
        wait_until(lambda: oauth_server.requests("/token"), "the token request")
        gone = client.delete(f"/api/integrations/{integration}/connection",
                             headers=member.headers)
        assert gone.status_code == 204, gone.get_data(as_text=True)

    assert answers[0].status_code == 409, answers[0].get_data(as_text=True)
    assert answers[0].get_json()["code"] == "integration_not_connected"
    assert client.get(f"/api/integrations/{integration}/connection",
                      headers=member.headers).status_code == 404


def test_a_refresh_claimed_by_a_worker_that_died_is_taken_over(app, client, member,
                                                                oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    assert connect(client, member, integration, accessToken="old-access",
                   refreshToken="old-refresh", expiresIn=0).status_code == 201
    with app.app_context(), app.extensions["integration_hub.db"]() as own:
        row = own.scalars(select(Connection)
                          .where(Connection.integration_id == integration)).one()
        row.refresh_claim = "claimed-by-a-worker-that-died"
        row.refresh_claimed_until = utcnow() - timedelta(seconds=1)  # its claim ran out
        own.commit()
    oauth_server.reset()

    answer = client.get(f"/api/integrations/{integration}/account?refresh=true",
                        headers=member.headers)

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert len(oauth_server.requests("/token")) == 1
    assert stored_access_token(app, integration) != "old-access"
