"""The OAuth2 authorization server harness (tests/support/oauth_server.*) works end to end.

No hub here: plain HTTP calls against the real oauth2-mock-server process, proving the
recordings and the control endpoints that the hub's OAuth tests rely on.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

REDIRECT_URI = "http://127.0.0.1:9/cb"
CLIENT_ID = "hub-client"
CLIENT_SECRET = "s3cret"


@pytest.fixture
def server(oauth_server):
    return oauth_server


@pytest.fixture
def http():
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(http, server, challenge: str, state: str = "st-1", scope: str = "read write"):
    response = http.get(server.authorize_url, allow_redirects=False, params={
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "state": state,
        "code_challenge": challenge, "code_challenge_method": "S256", "scope": scope,
    })
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    return location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def redeem(http, server, code: str, verifier: str):
    return http.post(server.token_url, auth=(CLIENT_ID, CLIENT_SECRET), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    })


def connect(http, server) -> dict:
    verifier, challenge = pkce_pair()
    _, params = authorize(http, server, challenge)
    response = redeem(http, server, params["code"], verifier)
    assert response.status_code == 200, response.text
    return response.json()


def refresh(http, server, refresh_token: str):
    return http.post(server.token_url, auth=(CLIENT_ID, CLIENT_SECRET),
                     data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def test_authorization_code_flow_with_pkce_and_basic_auth_is_recorded(server, http):
    verifier, challenge = pkce_pair()
    location, params = authorize(http, server, challenge, state="xyz")
    assert location.startswith(REDIRECT_URI + "?")
    assert params["state"] == "xyz" and params["code"]

    response = redeem(http, server, params["code"], verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["access_token"] and tokens["refresh_token"]
    assert tokens["scope"] == "read write"  # echoed from /authorize

    [auth_request] = server.requests("/authorize")
    assert auth_request["method"] == "GET"
    assert auth_request["query"]["code_challenge"] == challenge
    assert auth_request["query"]["code_challenge_method"] == "S256"
    assert auth_request["form"] is None
    [token_request] = server.requests("/token")
    assert token_request["method"] == "POST"
    assert token_request["form"] == {
        "grant_type": "authorization_code", "code": params["code"], "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert token_request["headers"]["authorization"] == f"Basic {basic}"
    assert token_request["time"] >= auth_request["time"] > 0
    assert [r["path"] for r in server.requests()] == ["/authorize", "/token"]


def test_mock_itself_rejects_a_wrong_code_verifier(server, http):
    _, challenge = pkce_pair()
    _, params = authorize(http, server, challenge)
    response = redeem(http, server, params["code"], pkce_pair()[0])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_queued_error_is_answered_once_then_normal_answers_resume(server, http):
    verifier, challenge = pkce_pair()
    _, params = authorize(http, server, challenge)
    server.queue_token_responses({"status": 400, "body": {"error": "invalid_grant"}})

    first = redeem(http, server, params["code"], verifier)
    assert first.status_code == 400
    assert first.json() == {"error": "invalid_grant"}
    # A canned answer does not reach the mock, so the same code is still redeemable.
    second = redeem(http, server, params["code"], verifier)
    assert second.status_code == 200, second.text
    assert second.json()["access_token"]
    assert len(server.requests("/token")) == 2


def test_refresh_rotates_the_refresh_token(server, http):
    tokens = connect(http, server)
    response = refresh(http, server, tokens["refresh_token"])
    assert response.status_code == 200, response.text
    renewed = response.json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    assert renewed["access_token"] != tokens["access_token"]
    assert renewed["scope"] == "read write"  # the scope of the original grant
    assert server.requests("/token")[-1]["form"] == {
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
    }


def test_body_override_merges_into_the_normal_answer(server, http):
    tokens = connect(http, server)
    server.queue_token_responses({"body": {"expires_in": 0, "refresh_token": None,
                                           "instance_url": "https://eu1.example"}})
    renewed = refresh(http, server, tokens["refresh_token"]).json()
    assert renewed["expires_in"] == 0
    assert "refresh_token" not in renewed
    assert renewed["instance_url"] == "https://eu1.example"
    assert renewed["access_token"] and renewed["token_type"] == "Bearer"


def test_set_userinfo_changes_userinfo(server, http):
    default = http.get(server.userinfo_url, headers={"Authorization": "Bearer x"})
    assert default.json() == {"sub": "user-123", "email": "ada@example.com", "name": "Ada Lovelace"}
    server.set_userinfo({"sub": "user-9", "email": "grace@example.com"})
    for _ in range(2):  # persists until reset
        assert http.get(server.userinfo_url).json() == {"sub": "user-9", "email": "grace@example.com"}
    assert server.requests("/userinfo")[0]["headers"]["authorization"] == "Bearer x"
    server.reset()
    assert http.get(server.userinfo_url).json()["sub"] == "user-123"


def test_next_authorize_error_and_iss(server, http):
    server.next_authorize(error="access_denied", error_description="The user said no")
    _, params = authorize(http, server, pkce_pair()[1], state="s-err")
    assert params == {"error": "access_denied", "error_description": "The user said no", "state": "s-err"}

    _, params = authorize(http, server, pkce_pair()[1], state="s-ok")  # one-shot
    assert params["code"] and "error" not in params

    server.next_authorize(iss="https://other.example")
    _, params = authorize(http, server, pkce_pair()[1])
    assert params["iss"] == "https://other.example" and params["code"]


def test_delay_then_normal_answer(server, http):
    tokens = connect(http, server)
    server.queue_token_responses({"delayMs": 500})
    started = time.monotonic()
    response = refresh(http, server, tokens["refresh_token"])
    assert time.monotonic() - started >= 0.45
    assert response.status_code == 200 and response.json()["access_token"]


def test_revoke_form_is_recorded(server, http):
    response = http.post(server.revoke_url, auth=(CLIENT_ID, CLIENT_SECRET),
                         data={"token": "rt-abc", "token_type_hint": "refresh_token"})
    assert response.status_code == 200
    [recorded] = server.requests("/revoke")
    assert recorded["form"] == {"token": "rt-abc", "token_type_hint": "refresh_token"}
    assert recorded["headers"]["content-type"] == "application/x-www-form-urlencoded"
