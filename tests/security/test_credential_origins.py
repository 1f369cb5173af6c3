"""Credentials go to the base origin only, unless the integration names another
(docs/security.md, "Sync pages: size and credentials").

``data.allowedHosts`` says where the proxy may go; ``data.credentialOrigins`` says where
the integration's credentials may go besides the origin of ``apiBaseUri``. One rule
decides it for every URL the hub calls with them: a proxied call to an absolute URL, a
redirect, and a sync's ``Link`` next page. Two real local servers record what reaches
them: ``upstream`` is the integration's API, ``elsewhere`` another host it may call.
"""

from __future__ import annotations

import base64
from urllib.parse import unquote_plus

import pytest

from tests.secret_watch import WATCH

API_KEY = "base-origin-only-key-5521"
CLIENT_SECRET = "base-origin-only-secret-7730"
SYNC = {"model": "orders", "path": "/orders", "pagination": "link"}

# How each auth type carries its secret: (integration values, the secret, where it goes).
AUTHS = {
    "apikey-header": ({"auth_type": "apikey", "api_key": API_KEY, "api_key_name": "X-Api-Key"},
                      API_KEY),
    "apikey-query": ({"auth_type": "apikey", "api_key": API_KEY, "api_key_location": "query",
                      "api_key_name": "key"}, API_KEY),
    "bearer": ({"auth_type": "bearer", "api_key": API_KEY}, API_KEY),
    "basic": ({"auth_type": "basic", "client_id": "ledger", "client_secret": CLIENT_SECRET},
              CLIENT_SECRET),
}


@pytest.fixture
def elsewhere(attacker_server):
    attacker_server.reset()
    yield attacker_server
    attacker_server.reset()


def origin(server) -> str:
    return server.url


def host_entry(server) -> str:
    return f"127.0.0.1:{server.port}"


def secrets_seen(server, *secrets: str) -> list[str]:
    """The secrets found anywhere in what ``server`` received."""
    return secrets_in(server.requests(), *secrets)


def secrets_in(requests, *secrets: str) -> list[str]:
    """The secrets found anywhere in ``requests``: request line (decoded too), headers
    (Basic credentials decoded)."""
    texts = []
    for received in requests:
        texts += [received.raw_target, unquote_plus(received.raw_target)]
        for _, value in received.headers:
            texts.append(value)
            if value.lower().startswith("basic "):
                texts.append(base64.b64decode(value[6:] + "==").decode("latin-1"))
    return [secret for secret in secrets if any(secret in text for text in texts)]


@pytest.fixture
def integration(make_integration, upstream, elsewhere):
    """A shared integration on ``upstream`` that may also call ``elsewhere``."""

    def make(auth="apikey-header", credential_origins=None, **data):
        values, secret = AUTHS[auth]
        WATCH.remember([secret])
        data = {"allowedHosts": [host_entry(elsewhere)], **data}
        if credential_origins is not None:
            data["credentialOrigins"] = credential_origins
        return make_integration("Orders", type="custom", mode="shared",
                                api_base_uri=f"{upstream.url}/v1", shares={"mia": 2},
                                data=data, **values)

    return make


def run_sync(client, caller, integration_id, run_queue) -> dict:
    answer = client.post(f"/api/integrations/{integration_id}/sync", headers=caller.headers)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    run_queue()
    return client.get(answer.get_json()["_links"]["self"]["href"], headers=caller.headers).get_json()


def record_ids(client, caller, integration_id) -> set[str]:
    answer = client.get(f"/api/integrations/{integration_id}/records", headers=caller.headers,
                        query_string={"model": "orders"})
    return {item["id"] for item in answer.get_json()["_embedded"]["inf:record"]}


def serve_two_pages(upstream, elsewhere) -> None:
    upstream.respond("/v1/orders", {"json": [{"id": "o1"}], "headers": [
        ("Link", f'<{elsewhere.url}/export/orders?page=2>; rel="next"')]})
    elsewhere.respond("/export/orders", {"json": [{"id": "o2"}]})


# -- syncs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("auth", list(AUTHS))
def test_a_next_page_on_another_allowed_host_is_fetched_without_credentials(
        client, member, upstream, elsewhere, integration, run_queue, auth):
    synced = integration(auth, sync=SYNC)
    serve_two_pages(upstream, elsewhere)

    run = run_sync(client, member, synced, run_queue)

    assert run["status"] == "succeeded", run
    assert record_ids(client, member, synced) == {"o1", "o2"}
    secret = AUTHS[auth][1]
    assert secrets_seen(upstream, secret) == [secret]  # the base origin got them
    assert [r.path for r in elsewhere.requests()] == ["/export/orders"]
    assert secrets_seen(elsewhere, secret) == []
    assert elsewhere.requests()[0].header("Authorization") is None


def test_a_next_page_on_a_named_credential_origin_gets_the_credentials(
        client, member, upstream, elsewhere, integration, run_queue):
    synced = integration(sync=SYNC, credential_origins=[origin(elsewhere)])
    serve_two_pages(upstream, elsewhere)

    run = run_sync(client, member, synced, run_queue)

    assert run["status"] == "succeeded", run
    assert [r.header("X-Api-Key") for r in elsewhere.requests()] == [API_KEY]


def test_a_credential_origin_is_exact_another_port_of_the_same_host_gets_nothing(
        client, member, upstream, elsewhere, integration, run_queue):
    # Named with the wrong port (the base's own): the host matches, the origin does not.
    synced = integration(sync=SYNC, credential_origins=[f"http://127.0.0.1:{upstream.port}"])
    serve_two_pages(upstream, elsewhere)

    assert run_sync(client, member, synced, run_queue)["status"] == "succeeded"
    assert secrets_seen(elsewhere, API_KEY) == []


# -- the proxy: absolute URLs and redirects --------------------------------------------------------

def call(client, caller, integration_id, url):
    return client.post(f"/api/integrations/{integration_id}/request", headers=caller.headers,
                       json={"url": url})


@pytest.mark.parametrize("auth", list(AUTHS))
def test_a_call_to_another_allowed_host_goes_without_credentials(
        client, member, upstream, elsewhere, integration, auth):
    integration_id = integration(auth)

    answer = call(client, member, integration_id, f"{elsewhere.url}/files/1")
    named = call(client, member, integration(auth, credential_origins=[origin(elsewhere)]),
                 f"{elsewhere.url}/files/2")

    assert answer.status_code == 200 and named.status_code == 200
    without, with_credentials = elsewhere.requests()
    secret = AUTHS[auth][1]
    assert (without.path, with_credentials.path) == ("/files/1", "/files/2")
    assert secrets_in([without], secret) == []
    assert without.header("Authorization") is None
    assert secrets_in([with_credentials], secret) == [secret]


def test_a_redirect_keeps_credentials_only_to_a_named_origin(client, member, upstream,
                                                            elsewhere, integration):
    plain = integration()
    named = integration(credential_origins=[origin(elsewhere)])
    upstream.respond("/v1/moved", {"redirect": f"{elsewhere.url}/new"},
                     {"redirect": f"{elsewhere.url}/new"})

    assert call(client, member, plain, "moved").status_code == 200
    assert call(client, member, named, "moved").status_code == 200

    assert [r.header("X-Api-Key") for r in upstream.requests()] == [API_KEY, API_KEY]
    assert [r.header("X-Api-Key") for r in elsewhere.requests()] == [None, API_KEY]


def test_a_401_after_a_redirect_elsewhere_refreshes_nothing_and_sends_no_token(
        client, member, upstream, elsewhere, oauth_server, oauth_integration):
    integration_id = oauth_integration(shares={"mia": 1}, api_base_uri=f"{upstream.url}/api",
                                       data={"allowedHosts": [host_entry(elsewhere)]})
    connected = client.post(f"/api/integrations/{integration_id}/connect", headers=member.headers,
                            json={"accessToken": "mias-access-token-3141", "refreshToken": "rt-1",
                                  "expiresIn": 3600})
    assert connected.status_code in (200, 201), connected.get_data(as_text=True)
    upstream.respond("/api/report", {"redirect": f"{elsewhere.url}/report"})
    elsewhere.respond("/report", {"status": 401, "json": {"error": "who are you"}})

    answer = call(client, member, integration_id, "report")

    assert answer.status_code == 401  # the answer passes through as it came
    assert [r.header("Authorization") for r in elsewhere.requests()] == [None]
    assert oauth_server.requests("/token") == []


# -- who may name a credential origin --------------------------------------------------------------

def test_a_writer_cannot_name_a_credential_origin_and_the_stored_key_stays_behind(
        client, admin, member, elsewhere, integration):
    integration_id = integration()
    path = f"/api/integrations/{integration_id}"
    data = {"allowedHosts": [host_entry(elsewhere)], "credentialOrigins": [origin(elsewhere)]}

    refused = client.put(path, headers=member.headers, json={"data": data})
    moved = client.put(path, headers=admin.headers, json={"data": data})

    assert refused.status_code == 403, refused.get_data(as_text=True)
    assert refused.get_json()["code"] == "field_needs_share_access"
    assert list(refused.get_json()["errors"]) == ["data.credentialOrigins"]
    assert moved.status_code == 200 and moved.get_json()["hasApiKey"] is False


@pytest.mark.parametrize("entry", ["127.0.0.1", "https://", "https://x.example/path",
                                   "https://user@x.example", "*.example.com",
                                   "ftp://x.example", "https://x.example:99999"])
def test_a_credential_origin_must_be_an_origin(client, admin, integration, entry):
    integration_id = integration()

    answer = client.put(f"/api/integrations/{integration_id}", headers=admin.headers,
                        json={"data": {"credentialOrigins": [entry]}})

    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert "data.credentialOrigins.0" in answer.get_json()["errors"]
