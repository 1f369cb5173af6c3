"""Token answers with absurd lifetimes (docs/security.md, "Token lifetimes from outside").

An authorization server decides ``expires_in``; a broken or hostile one may answer a
lifetime of 31,000 years, a negative one, one too large for a double, or a word. None of
them may make the hub answer 500, nor send a token request on every call: a number is
clamped to between a minute and a year and noted in ``lastError``; a word makes the
answer no token (502 ``token_endpoint_failed``), after which refreshes back off.
The authorization server is the real one of tests/support/oauth_server.py, answering
these bytes as they are written here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

CALLS = 5  # uses of the connection after the refresh
MINUTE = timedelta(seconds=60)
YEAR = timedelta(days=365)


def connect_expired(client, caller, integration):
    answer = client.post(f"/api/integrations/{integration}/connect", headers=caller.headers,
                         json={"accessToken": "old-access", "refreshToken": "old-refresh",
                               "expiresIn": 0})
    assert answer.status_code == 201, answer.get_data(as_text=True)


def token_answer(expires_in: str) -> dict:
    """A token answer with ``expires_in`` exactly as written (JSON text)."""
    return {"status": 200, "headers": {"Content-Type": "application/json"},
            "body": '{"access_token": "new-access", "token_type": "Bearer", '
                    f'"refresh_token": "new-refresh", "expires_in": {expires_in}}}'}


def use(client, caller, integration):
    return client.get(f"/api/integrations/{integration}/account?refresh=true",
                      headers=caller.headers)


def connection(client, caller, integration) -> dict:
    answer = client.get(f"/api/integrations/{integration}/connection", headers=caller.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def when(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


NOTED = "token_lifetime_out_of_range"


@pytest.mark.parametrize("expires_in, lifetime, noted", [
    pytest.param("1e12", YEAR, NOTED, id="31-thousand-years"),
    pytest.param("999999999999", YEAR, NOTED, id="past-the-calendar"),
    pytest.param("1e400", YEAR, NOTED, id="beyond-a-double"),
    pytest.param("-5", MINUTE, NOTED, id="negative"),
    pytest.param("0", MINUTE, None, id="zero"),  # odd, not absurd: a minute, unremarked
])
def test_an_absurd_lifetime_is_clamped_noted_and_refreshed_once(client, member, oauth_server,
                                                                 oauth_integration, expires_in,
                                                                 lifetime, noted):
    integration = oauth_integration(shares={"mia": 1})
    connect_expired(client, member, integration)
    oauth_server.reset()
    oauth_server.queue_token_responses(token_answer(expires_in))
    before = datetime.now(UTC)

    answers = [use(client, member, integration) for _ in range(CALLS)]

    assert [a.status_code for a in answers] == [200] * CALLS, answers[0].get_data(as_text=True)
    assert len(oauth_server.requests("/token")) == 1
    bearers = {r["headers"]["authorization"] for r in oauth_server.requests("/userinfo")}
    assert bearers == {"Bearer new-access"}
    held = connection(client, member, integration)
    assert held["status"] == "active"
    assert (held["lastError"] or {}).get("code") == noted
    expires = when(held["tokenExpiresAt"])
    assert before + lifetime - timedelta(seconds=5) <= expires
    assert expires <= datetime.now(UTC) + lifetime + timedelta(seconds=5)


def test_a_lifetime_that_is_no_number_is_no_token_and_backs_off(client, member, oauth_server,
                                                                 oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    connect_expired(client, member, integration)
    oauth_server.reset()
    oauth_server.queue_token_responses(token_answer('"abc"'))

    failed = use(client, member, integration)
    waiting = [use(client, member, integration) for _ in range(CALLS)]

    assert failed.status_code == 502 and failed.get_json()["code"] == "token_endpoint_failed"
    assert {(a.status_code, a.get_json()["code"]) for a in waiting} == {
        (503, "token_refresh_backoff")}
    assert all(int(a.headers["Retry-After"]) >= 1 for a in waiting)
    assert len(oauth_server.requests("/token")) == 1
    held = connection(client, member, integration)
    assert held["status"] == "active"
    assert held["lastError"]["code"] == "token_response_invalid"


@pytest.mark.parametrize("expires_in", ["1e12", "999999999999", "1e400", "-5"])
def test_an_absurd_lifetime_at_connect_is_clamped(client, member, oauth_server,
                                                  oauth_integration, expires_in):
    integration = oauth_integration(shares={"mia": 1})
    oauth_server.queue_token_responses(token_answer(expires_in))

    answer = client.post(f"/api/integrations/{integration}/connect", headers=member.headers,
                         json={"code": "a-code"})

    assert answer.status_code == 201, answer.get_data(as_text=True)
    held = connection(client, member, integration)
    assert held["lastError"]["code"] == NOTED
    assert when(held["tokenExpiresAt"]) <= datetime.now(UTC) + YEAR + MINUTE


def test_a_lifetime_given_when_connecting_is_clamped(client, member, oauth_integration):
    integration = oauth_integration(shares={"mia": 1}, user_info_uri=None)

    answer = client.post(f"/api/integrations/{integration}/connect", headers=member.headers,
                         json={"accessToken": "given", "expiresIn": 10 ** 12})

    assert answer.status_code == 201, answer.get_data(as_text=True)
    held = connection(client, member, integration)
    assert when(held["tokenExpiresAt"]) <= datetime.now(UTC) + YEAR + MINUTE
