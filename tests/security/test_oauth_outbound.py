"""OAuth token, user-info and revocation calls follow the proxy's outbound policy
(docs/security.md, "Outbound connections").

These calls carry the integration's client secret, the user's code or refresh token, or an
access token, to addresses an integration's configuration names. So: with
``HUB_PROXY_DENY_PRIVATE=true`` a denied address never sees a connection; redirects are never
followed (a 307 would send the form, client secret included, on to wherever it points); every
call has timeouts and a cap on the answer's size; and an answer that is not a usable token is
502 ``token_endpoint_failed``, changing nothing.

The authorization server is the real one of tests/support/oauth_server.py; the addresses that
must not be contacted are loopback listeners counting their connections.
"""

from __future__ import annotations

import json

import pytest

from integration_hub.outbound import sessions as outbound_requests
from tests.support.listener import Answer
from tests.support.trickle import start_trickle


def connect(client, caller, integration, **body):
    return client.post(f"/api/integrations/{integration}/connect", headers=caller.headers,
                       json=body)


def connection(client, caller, integration):
    return client.get(f"/api/integrations/{integration}/connection", headers=caller.headers)


def assert_problem(answer, status: int, code: str):
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.get_json()["code"] == code


def assert_untouched(listener):
    assert listener.accepted() == 0
    assert listener.received == []


# -- the policy -------------------------------------------------------------------------------------

def test_token_calls_never_connect_to_a_denied_address(guarded, listener, oauth_integration,
                                                       member):
    integration = oauth_integration(token_uri=f"{listener.url}/token", shares={"mia": 1})
    client = guarded.test_client()

    assert_problem(connect(client, member, integration, code="a-code"), 403,
                   "upstream_address_denied")
    assert_problem(connect(client, member, integration, refreshToken="a-refresh-token"), 403,
                   "upstream_address_denied")

    assert connection(client, member, integration).status_code == 404
    assert_untouched(listener)


def test_refreshing_never_connects_to_a_denied_address(guarded, listener, oauth_integration,
                                                       member):
    integration = oauth_integration(token_uri=f"{listener.url}/token", user_info_uri=None,
                                    shares={"mia": 1})
    client = guarded.test_client()
    assert connect(client, member, integration, accessToken="given-access",
                   refreshToken="given-refresh").status_code == 201

    refresh = client.post(f"/api/integrations/{integration}/connection/refresh",
                          headers=member.headers)

    assert_problem(refresh, 403, "upstream_address_denied")
    kept = connection(client, member, integration).get_json()
    assert kept["status"] == "active"  # the user's grant is not to blame
    assert_untouched(listener)


def test_user_info_never_connects_to_a_denied_address(guarded, listener, oauth_integration,
                                                      member):
    integration = oauth_integration(user_info_uri=f"{listener.url}/me", shares={"mia": 1})
    client = guarded.test_client()

    answer = connect(client, member, integration, accessToken="given-access")

    assert answer.status_code == 201, answer.get_data(as_text=True)  # the account is best effort
    again = client.get(f"/api/integrations/{integration}/account?refresh=true",
                       headers=member.headers)
    assert again.status_code == 200, again.get_data(as_text=True)
    assert_untouched(listener)


def test_revocation_never_connects_to_a_denied_address(guarded, listener, oauth_integration,
                                                       member):
    integration = oauth_integration(revocation_uri=f"{listener.url}/revoke", user_info_uri=None,
                                    shares={"mia": 1})
    client = guarded.test_client()
    assert connect(client, member, integration, accessToken="given-access",
                   refreshToken="given-refresh").status_code == 201

    gone = client.delete(f"/api/integrations/{integration}/connection", headers=member.headers)

    assert gone.status_code == 204  # revocation is best effort; the tokens are forgotten
    assert connection(client, member, integration).status_code == 404
    assert_untouched(listener)


# -- no redirects -------------------------------------------------------------------------------------

def test_the_token_endpoint_s_redirect_is_not_followed(client, listener, oauth_server,
                                                       oauth_integration, member):
    integration = oauth_integration(shares={"mia": 1})
    oauth_server.queue_token_responses(
        {"status": 307, "headers": {"Location": f"{listener.url}/token"}, "body": {}},
        {"status": 308, "headers": {"Location": f"{listener.url}/token"}, "body": {}})

    assert_problem(connect(client, member, integration, code="a-code"), 502,
                   "token_endpoint_failed")
    assert_problem(connect(client, member, integration, refreshToken="a-refresh-token"), 502,
                   "token_endpoint_failed")

    assert connection(client, member, integration).status_code == 404
    assert_untouched(listener)  # neither the code nor the client secret went on


def test_the_user_info_redirect_is_not_followed(client, listen, oauth_integration, member):
    elsewhere = listen()
    redirecting = listen(Answer(status=302, headers=[("Location", f"{elsewhere.url}/me")],
                                body=b""))
    integration = oauth_integration(user_info_uri=f"{redirecting.url}/me", shares={"mia": 1})

    answer = connect(client, member, integration, accessToken="given-access")

    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert redirecting.accepted() == 1
    assert_untouched(elsewhere)


def test_the_revocation_redirect_is_not_followed(client, listen, oauth_integration, member):
    elsewhere = listen()
    redirecting = listen(Answer(status=307, headers=[("Location", f"{elsewhere.url}/revoke")],
                                body=b""))
    integration = oauth_integration(revocation_uri=f"{redirecting.url}/revoke",
                                    user_info_uri=None, shares={"mia": 1})
    assert connect(client, member, integration, accessToken="given-access",
                   refreshToken="given-refresh").status_code == 201

    gone = client.delete(f"/api/integrations/{integration}/connection", headers=member.headers)

    assert gone.status_code == 204
    assert redirecting.accepted() >= 1
    assert_untouched(elsewhere)  # the refresh token and client secret stayed where they were


# -- answers that are not a token ---------------------------------------------------------------------

NOT_A_TOKEN = {
    "no-access-token": {"token_type": "Bearer", "expires_in": 3600},
    "empty-access-token": {"access_token": "", "token_type": "Bearer"},
    "access-token-not-a-string": {"access_token": {"value": "x"}, "token_type": "Bearer"},
    "token-type-not-a-string": {"access_token": "issued-access", "token_type": ["Bearer"]},
    "expires-in-not-a-number": {"access_token": "issued-access", "expires_in": "soon"},
    "a-list": ["issued-access"],
    "a-string": "issued-access",
    "too-large": {"access_token": "issued-access", "padding": "x" * (2 * 1024 * 1024)},
}


@pytest.mark.parametrize("body", list(NOT_A_TOKEN))
def test_an_answer_that_is_not_a_token_is_a_failed_token_endpoint(client, oauth_server,
                                                                 oauth_integration, member,
                                                                 body):
    integration = oauth_integration(shares={"mia": 1})
    oauth_server.queue_token_responses({"status": 200, "body": NOT_A_TOKEN[body]})

    assert_problem(connect(client, member, integration, code="a-code"), 502,
                   "token_endpoint_failed")
    assert connection(client, member, integration).status_code == 404


def test_a_token_answer_that_is_not_json_is_a_failed_token_endpoint(client, listen,
                                                                     oauth_integration, member):
    page = listen(Answer(headers=[("Content-Type", "text/html")], body=b"<html>Sign in</html>"))
    integration = oauth_integration(token_uri=f"{page.url}/token", shares={"mia": 1})

    assert_problem(connect(client, member, integration, code="a-code"), 502,
                   "token_endpoint_failed")
    assert connection(client, member, integration).status_code == 404


@pytest.mark.parametrize("body", ["no-access-token", "a-list", "too-large"])
def test_a_refresh_answered_with_no_token_keeps_the_connection(client, oauth_server,
                                                               oauth_integration, member, body):
    integration = oauth_integration(user_info_uri=None, shares={"mia": 1})
    assert connect(client, member, integration, accessToken="given-access",
                   refreshToken="given-refresh").status_code == 201
    oauth_server.queue_token_responses({"status": 200, "body": NOT_A_TOKEN[body]})

    refresh = client.post(f"/api/integrations/{integration}/connection/refresh",
                          headers=member.headers)

    assert_problem(refresh, 502, "token_endpoint_failed")
    kept = connection(client, member, integration).get_json()
    assert kept["status"] == "active"  # a broken server is not a refused grant
    assert kept["lastError"]["code"] == "token_response_invalid"


# -- answers nested too deeply ------------------------------------------------------------------------

DEEP = 100_000  # levels: Python's parser recurses once per level and would exhaust the stack
DEEP_ANSWERS = {
    "deep-array": b"[" * DEEP + b"]" * DEEP,
    "unclosed": b"[" * DEEP,
    "deep-inside-a-token": b'{"access_token": "issued-access", "token_type": "Bearer", "x": '
                           + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b"}",
    "deep-inside-an-error": b'{"error": "invalid_grant", "x": ' + b"[" * DEEP + b"]" * DEEP
                            + b"}",
}


@pytest.mark.parametrize("body", list(DEEP_ANSWERS))
def test_a_token_answer_nested_too_deeply_is_a_failed_token_endpoint(client, listen,
                                                                    oauth_integration, member,
                                                                    body):
    deep = listen(Answer(body=DEEP_ANSWERS[body]))
    integration = oauth_integration(token_uri=f"{deep.url}/token", user_info_uri=None,
                                    shares={"mia": 1})

    assert_problem(connect(client, member, integration, code="a-code"), 502,
                   "token_endpoint_failed")
    assert connection(client, member, integration).status_code == 404
    assert connect(client, member, integration, accessToken="given-access",
                   refreshToken="given-refresh").status_code == 201

    refresh = client.post(f"/api/integrations/{integration}/connection/refresh",
                          headers=member.headers)

    assert_problem(refresh, 502, "token_endpoint_failed")
    kept = connection(client, member, integration).get_json()
    assert kept["status"] == "active"
    assert kept["lastError"]["code"] == "token_response_invalid"
    assert len(deep.received) == 2  # the code exchange and the refresh reached it


@pytest.mark.parametrize("body", ["deep-array", "deep-inside-a-token"])
def test_a_profile_nested_too_deeply_is_no_profile(client, listen, oauth_integration, member,
                                                   body):
    deep = listen(Answer(body=DEEP_ANSWERS[body]))
    integration = oauth_integration(user_info_uri=f"{deep.url}/me", shares={"mia": 1})

    answer = connect(client, member, integration, accessToken="given-access")

    assert answer.status_code == 201, answer.get_data(as_text=True)  # the account is best effort
    assert not any((answer.get_json().get("account") or {}).values())  # no profile read
    again = client.get(f"/api/integrations/{integration}/account?refresh=true",
                       headers=member.headers)
    assert again.status_code == 200, again.get_data(as_text=True)
    assert len(deep.received) == 2


# -- answers that trickle -----------------------------------------------------------------------------

DEADLINE = 1.0  # seconds for a whole answer, in these tests
PAUSE = 0.1  # seconds between two bytes: each read gets something long before it times out


def slow_answer(document: dict) -> bytes:
    """An HTTP answer whose trickling takes 30 deadlines or more."""
    body = json.dumps(document).encode() + b" " * int(30 * DEADLINE / PAUSE)
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    return head + body


@pytest.fixture
def trickle(monkeypatch):
    """Factory: a server trickling its answer (tests/support/trickle.py), with the hub's
    deadline for a whole answer set to ``DEADLINE``."""
    monkeypatch.setattr(outbound_requests, "ANSWER_DEADLINE", DEADLINE)
    started = []

    def make(phase: str, document: dict):
        started.append(start_trickle(phase, slow_answer(document), PAUSE))
        return started[-1]

    yield make
    for server in started:
        server.stop()


@pytest.mark.parametrize("phase", ["head", "body"])
def test_a_trickling_token_endpoint_is_cut_off_at_the_deadline(client, trickle,
                                                               oauth_integration, member, phase):
    slow = trickle(phase, {"access_token": "slow-access", "token_type": "Bearer"})
    integration = oauth_integration(token_uri=f"{slow.url}/token", user_info_uri=None,
                                    shares={"mia": 1})

    answer = connect(client, member, integration, code="a-code")

    assert_problem(answer, 504, "token_endpoint_timeout")
    assert slow.outcomes() == ["hung-up"]  # the hub gave up long before the last byte
    assert connection(client, member, integration).status_code == 404


@pytest.mark.parametrize("phase", ["head", "body"])
def test_a_trickling_profile_is_cut_off_at_the_deadline(client, trickle, oauth_integration,
                                                        member, phase):
    slow = trickle(phase, {"sub": "slow-account", "email": "slow@example.com"})
    integration = oauth_integration(user_info_uri=f"{slow.url}/me", shares={"mia": 1})

    answer = connect(client, member, integration, accessToken="given-access")

    assert answer.status_code == 201, answer.get_data(as_text=True)  # the account is best effort
    assert slow.outcomes() == ["hung-up"]
    assert not any((answer.get_json().get("account") or {}).values())
