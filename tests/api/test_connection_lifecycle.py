"""Programmatic connect for every auth type, and the token lifecycle: refresh with skew,
rotation, single flight, invalid_grant and backoff."""

import threading

import pytest
from sqlalchemy import select

from integration_hub import crypto
from integration_hub.db.models import Connection


def connect(client, caller, integration, **body):
    return client.post(f"/api/integrations/{integration}/connect", headers=caller.headers, json=body)


def account(client, caller, integration):
    return client.get(f"/api/integrations/{integration}/account?refresh=true", headers=caller.headers)


def stored(app, session, integration):
    session.rollback()
    row = session.scalars(select(Connection).where(Connection.integration_id == integration)).one()
    with app.app_context():
        return row, crypto.decrypt(row.access_token_encrypted), crypto.decrypt(
            row.refresh_token_encrypted)


@pytest.mark.parametrize("auth_type, body, secret", [
    ("apikey", {"apiKey": "user-api-key-123"}, "user-api-key-123"),
    ("bearer", {"token": "user-bearer-token-1"}, "user-bearer-token-1"),
    ("basic", {"username": "ada", "password": "user-password-1"}, "user-password-1"),
])
def test_connect_with_credentials(app, client, session, member, make_integration, auth_type, body,
                                  secret):
    integration = make_integration("Keyed", type="custom", auth_type=auth_type, mode="per-user",
                                   shares={"mia": 1})
    answer = connect(client, member, integration, **body)

    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.headers["Location"] == f"/api/integrations/{integration}/connection"
    assert answer.get_json()["status"] == "active"
    row = session.scalars(select(Connection)).one()
    assert secret not in row.credentials_encrypted
    with app.app_context():
        assert secret in crypto.decrypt(row.credentials_encrypted)
    listed = client.get("/api/integrations-list", headers=member.headers).get_json()
    assert listed[0]["connected"] is True


@pytest.mark.parametrize("auth_type, body, field", [
    ("apikey", {}, "apiKey"), ("apikey", {"apiKey": "k" * 9, "token": "x"}, "token"),
    ("basic", {"username": "ada"}, "password"),
])
def test_connect_with_wrong_fields_is_422(client, session, member, make_integration, auth_type, body,
                                          field):
    integration = make_integration("Keyed", type="custom", auth_type=auth_type, mode="per-user",
                                   shares={"mia": 1})
    answer = connect(client, member, integration, **body)
    assert answer.status_code == 422 and field in answer.get_json()["errors"]
    assert session.scalars(select(Connection)).all() == []


def test_oauth_connect_with_tokens_and_refresh_rotation(app, client, session, member, oauth_server,
                                                        oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    answer = connect(client, member, integration, accessToken="first-access-token",
                     refreshToken="first-refresh-token", expiresIn=30)
    assert answer.status_code == 201
    assert oauth_server.requests("/token") == []

    # expires within the 60 s skew: the next use refreshes once
    assert account(client, member, integration).status_code == 200
    first = oauth_server.requests("/token")
    assert [r["form"]["refresh_token"] for r in first] == ["first-refresh-token"]
    row, access, refresh = stored(app, session, integration)
    assert access != "first-access-token" and refresh.startswith("rt-")
    assert row.last_refreshed_at is not None and row.status == "active"

    # fresh now: no token request
    assert account(client, member, integration).status_code == 200
    assert len(oauth_server.requests("/token")) == 1
    # forced refresh uses the rotated refresh token
    forced = client.post(f"/api/integrations/{integration}/connection/refresh",
                         headers=member.headers)
    assert forced.status_code == 200
    assert oauth_server.requests("/token")[-1]["form"]["refresh_token"] == refresh


def test_refresh_keeps_the_refresh_token_when_none_is_returned(app, client, session, member,
                                                               oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    connect(client, member, integration, accessToken="a-token", refreshToken="keep-me-token",
            expiresIn=0)
    oauth_server.queue_token_responses({"body": {"refresh_token": None,
                                                 "instance_url": "https://na1.example.com"}})
    assert account(client, member, integration).status_code == 200
    row, _, refresh = stored(app, session, integration)
    assert refresh == "keep-me-token"


def test_connect_with_refresh_token_only(client, member, oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    answer = connect(client, member, integration, refreshToken="given-refresh-token")
    assert answer.status_code == 201
    assert oauth_server.requests("/token")[0]["form"]["grant_type"] == "refresh_token"


def test_connect_with_code(client, member, oauth_server, oauth_integration):
    import requests

    integration = oauth_integration(shares={"mia": 1}, data={"pkce": False})
    with requests.Session() as http:
        http.trust_env = False
        redirect = http.get(oauth_server.authorize_url, allow_redirects=False, params={
            "response_type": "code", "client_id": "hub-client", "state": "x",
            "redirect_uri": "https://app.example.com/cb"})
    code = redirect.headers["Location"].split("code=")[1].split("&")[0]
    answer = connect(client, member, integration, code=code, redirectUri="https://app.example.com/cb")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert oauth_server.requests("/token")[0]["form"]["redirect_uri"] == "https://app.example.com/cb"
    assert answer.get_json()["account"]["email"] == "ada@example.com"


def test_invalid_grant_needs_reauthorisation(client, session, member, oauth_server,
                                             oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    connect(client, member, integration, accessToken="a-token", refreshToken="revoked-token",
            expiresIn=0)
    oauth_server.queue_token_responses({"status": 400, "body": {"error": "invalid_grant",
                                                                "error_description": "revoked"}})
    answer = account(client, member, integration)

    assert answer.status_code == 409
    problem = answer.get_json()
    assert problem["code"] == "connection_reauth_required"
    assert problem["_links"]["inf:connect"]["href"] == f"/api/integrations/{integration}/connect"
    connection = client.get(f"/api/integrations/{integration}/connection",
                            headers=member.headers).get_json()
    assert connection["status"] == "reauth_required"
    assert connection["lastError"]["code"] == "invalid_grant"
    # no further attempts until the user connects again
    assert account(client, member, integration).status_code == 409
    assert len(oauth_server.requests("/token")) == 1


def test_transient_failure_backs_off_and_keeps_the_status(client, member, oauth_server,
                                                          oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    connect(client, member, integration, accessToken="a-token", refreshToken="r-token",
            expiresIn=0)
    oauth_server.queue_token_responses({"status": 503, "body": {"error": "temporarily_unavailable"}})

    failed = account(client, member, integration)
    assert failed.status_code == 502 and failed.get_json()["code"] == "token_endpoint_failed"
    waiting = account(client, member, integration)
    assert waiting.status_code == 503 and waiting.get_json()["code"] == "token_refresh_backoff"
    assert int(waiting.headers["Retry-After"]) >= 1
    assert len(oauth_server.requests("/token")) == 1
    connection = client.get(f"/api/integrations/{integration}/connection",
                            headers=member.headers).get_json()
    assert connection["status"] == "active"
    assert connection["lastError"]["code"] == "token_endpoint_http_503"


def test_not_connected(client, member, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    missing = client.get(f"/api/integrations/{integration}/connection", headers=member.headers)
    assert missing.status_code == 404 and missing.get_json()["code"] == "integration_not_connected"
    assert missing.get_json()["_links"]["inf:connect"]["href"].endswith("/connect")
    refresh = account(client, member, integration)
    assert refresh.status_code == 409
    assert refresh.get_json()["_links"]["inf:connect"]["href"].endswith("/connect")


def test_concurrent_refreshes_call_the_token_endpoint_once(app, client, member, oauth_server,
                                                           oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    connect(client, member, integration, accessToken="old-token", refreshToken="old-refresh",
            expiresIn=0)
    oauth_server.reset()  # forget the account lookup made while connecting
    oauth_server.queue_token_responses({"delayMs": 400})
    barrier = threading.Barrier(10)
    answers = []

    def call():
        own = app.test_client()
        barrier.wait()
        answers.append(account(own, member, integration))

    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert [a.status_code for a in answers] == [200] * 10
    assert len(oauth_server.requests("/token")) == 1
    tokens = {r["headers"]["authorization"] for r in oauth_server.requests("/userinfo")}
    assert len(tokens) == 1 and "old-token" not in tokens.pop()


def test_owner_lists_connections(client, admin, member, make_caller, make_integration):
    integration = make_integration("Keyed", type="custom", auth_type="apikey", mode="per-user",
                                   shares={"mia": 1, "team:x": 1})
    connect(client, member, integration, apiKey="mia-api-key-1")
    connect(client, admin, integration, apiKey="root-api-key-1")

    assert client.get(f"/api/integrations/{integration}/connections",
                      headers=member.headers).status_code == 403
    page = client.get(f"/api/integrations/{integration}/connections", headers=admin.headers)
    items = page.get_json()["_embedded"]["inf:connection"]
    assert {i["ownerId"] for i in items} == {"mia", "root"}
    one = client.get(items[0]["_links"]["self"]["href"], headers=admin.headers)
    assert one.status_code == 200 and one.get_json()["id"] == items[0]["id"]


def test_delete_guard_counts_connections(client, admin, member, make_integration):
    integration = make_integration("Keyed", type="custom", auth_type="apikey", mode="per-user",
                                   shares={"mia": 1})
    connect(client, member, integration, apiKey="mia-api-key-1")

    refused = client.delete(f"/api/integrations/{integration}", headers=admin.headers)
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "integration_in_use"
    assert refused.get_json()["counts"] == {"connections": 1, "records": 0}
    assert client.delete(f"/api/integrations/{integration}?force=true",
                         headers=admin.headers).status_code == 204


def test_credentials_are_checked_on_the_health_check_before_they_are_stored(
        client, session, member, make_integration, upstream):
    integration = make_integration("Checked", type="custom", auth_type="apikey", mode="per-user",
                                   api_base_uri=f"{upstream.url}/v1", api_key_name="X-Key",
                                   data={"healthCheck": "/me"}, shares={"mia": 1})
    upstream.respond("/v1/me", {"status": 401}, {"status": 200})

    refused = connect(client, member, integration, apiKey="wrong-key-123")
    assert refused.status_code == 422 and refused.get_json()["code"] == "credentials_rejected"
    assert session.scalars(select(Connection)).all() == []
    accepted = connect(client, member, integration, apiKey="right-key-123")
    assert accepted.status_code == 201
    assert [r.header("X-Key") for r in upstream.requests()] == ["wrong-key-123", "right-key-123"]


def test_health_check_paths_obey_the_url_guard(client, session, member, make_integration,
                                               upstream):
    integration = make_integration("Escaping", type="custom", auth_type="apikey", mode="per-user",
                                   api_base_uri=f"{upstream.url}/v1",
                                   data={"healthCheck": "/%2e%2e/admin"}, shares={"mia": 1})
    answer = connect(client, member, integration, apiKey="some-key-123")
    assert answer.status_code == 400 and answer.get_json()["code"] == "url_outside_base"
    assert upstream.requests() == []
    assert session.scalars(select(Connection)).all() == []
