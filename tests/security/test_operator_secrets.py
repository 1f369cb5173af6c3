"""The operator's OAuth client secret goes only where the operator's catalogue sends it
(docs/security.md, "Copies and re-pointing").

``POST /api/integrations/provision`` creates an integration of a catalogue type whose
client secret is the operator's (``HUB_PROVIDER_<TYPE>_CLIENT_SECRET``), owned by whoever
provisioned it. Owners may re-point their integrations, so the rule is that a stored
secret never follows a change of where it is sent: re-pointing drops it unless the same
request brings a new one, whether the integration is changed or copied.

The attacker is an ordinary user allowed to register integrations; their host is a real
loopback HTTP server of the test's own (tests/support/upstream.py) answering token,
profile and revocation requests. Each test checks what that host received.
"""

from __future__ import annotations

import pytest

from integration_hub import create_app
from integration_hub.queue import job_queue
from tests.conftest import make_settings
from tests.secret_watch import WATCH, WatchedClient
from tests.security.test_copies_and_repointing import secrets_seen

OPERATOR_ID = "hub-drive-client"
OPERATOR_SECRET = "operator-drive-secret-7731-wqz"
OWN_SECRET = "pams-own-client-secret-2284-lfe"
VICTIM_REFRESH = "victims-drive-refresh-6409-tnb"


@pytest.fixture(scope="module")
def operator_app(migrated_app, tmp_path_factory):
    """The hub with the operator's Google Drive client, on the same database as ``app``."""
    WATCH.remember([OPERATOR_SECRET, OWN_SECRET, VICTIM_REFRESH])
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url,
                             tmp_path_factory.mktemp("operator"),
                             HUB_PROVIDER_GOOGLE_DRIVE_CLIENT_ID=OPERATOR_ID,
                             HUB_PROVIDER_GOOGLE_DRIVE_CLIENT_SECRET=OPERATOR_SECRET)
    hub = create_app(settings)
    hub.test_client_class = WatchedClient
    yield hub
    hub.extensions["integration_hub.db"].kw["bind"].dispose()


@pytest.fixture
def hub(app, operator_app):
    yield operator_app.test_client()
    operator_app.extensions["integration_hub.request_log"].flush()  # before the rows go
    job_queue(operator_app).huey.flush()


@pytest.fixture
def attacker(attacker_server):
    attacker_server.reset()
    attacker_server.respond("/token", {"json": {"access_token": "attacker-issued-access",
                                                "refresh_token": "attacker-issued-refresh",
                                                "token_type": "Bearer", "expires_in": 3600}},
                            sticky=True)
    attacker_server.respond("/me", {"json": {"sub": "pam", "email": "pam@example.com"}},
                            sticky=True)
    attacker_server.respond("/revoke", {"json": {}}, sticky=True)
    attacker_server.respond("/v1/*", {"json": {"files": []}}, sticky=True)
    yield attacker_server
    attacker_server.reset()


@pytest.fixture
def pam(make_caller):
    """An ordinary user who may register (and so provision) integrations."""
    return make_caller("pam", permissions=["integrations.create"])


def elsewhere(server) -> dict:
    """Every OAuth endpoint and the API base on ``server``."""
    return {"authUri": f"{server.url}/authorize", "tokenUri": f"{server.url}/token",
            "userInfoUri": f"{server.url}/me", "revocationUri": f"{server.url}/revoke",
            "apiBaseUri": f"{server.url}/v1"}


def provisioned(hub, caller) -> str:
    answer = hub.post("/api/integrations/provision", headers=caller.headers,
                      json={"driverType": "google-drive"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body = answer.get_json()
    assert (body["clientId"], body["hasClientSecret"]) == (OPERATOR_ID, True)
    return body["id"]


def use_every_endpoint(hub, caller, integration: str) -> None:
    """Everything that sends the client secret or a token: a code exchange (with the
    profile read after it), a refresh, a proxied call and revocation."""
    path = f"/api/integrations/{integration}"
    hub.post(f"{path}/connect", headers=caller.headers, json={"code": "pams-code"})
    hub.post(f"{path}/connect", headers=caller.headers, json={"refreshToken": VICTIM_REFRESH})
    hub.post(f"{path}/connection/refresh", headers=caller.headers)
    hub.post(f"{path}/request", headers=caller.headers, json={"url": "files"})
    hub.delete(f"{path}/connection", headers=caller.headers)


@pytest.mark.parametrize("method", ["put", "patch"])
def test_re_pointing_a_provisioned_integration_leaves_the_operator_secret_behind(
        hub, pam, attacker, method):
    integration = provisioned(hub, pam)

    moved = getattr(hub, method)(f"/api/integrations/{integration}", headers=pam.headers,
                                 json=elsewhere(attacker))
    assert moved.status_code == 200, moved.get_data(as_text=True)
    use_every_endpoint(hub, pam, integration)

    assert attacker.requests("/token"), "the token endpoint was never called"
    assert secrets_seen(attacker, OPERATOR_SECRET) == []
    assert moved.get_json()["hasClientSecret"] is False


@pytest.mark.parametrize("field", ["tokenUri", "revocationUri"])
def test_one_re_pointed_endpoint_is_enough_to_leave_it_behind(hub, pam, attacker, field):
    integration = provisioned(hub, pam)
    path = f"/api/integrations/{integration}"
    # First every other endpoint (nothing of the secret's goes there), then the one.
    others = {name: value for name, value in elsewhere(attacker).items()
              if name not in ("tokenUri", "revocationUri", "apiBaseUri")}
    assert hub.patch(path, headers=pam.headers, json=others).status_code == 200
    assert hub.patch(path, headers=pam.headers,
                     json={field: elsewhere(attacker)[field]}).status_code == 200

    if field == "revocationUri":  # the token calls stay with the provider: connect by hand
        hub.post(f"{path}/connect", headers=pam.headers, json={
            "accessToken": "pams-access", "refreshToken": VICTIM_REFRESH})
        hub.delete(f"{path}/connection", headers=pam.headers)
        assert attacker.requests("/revoke"), "the revocation endpoint was never called"
    else:
        hub.post(f"{path}/connect", headers=pam.headers, json={"code": "pams-code"})
        assert attacker.requests("/token"), "the token endpoint was never called"

    assert secrets_seen(attacker, OPERATOR_SECRET) == []


def test_a_copy_pointed_elsewhere_leaves_the_operator_secret_behind(hub, pam, attacker):
    integration = provisioned(hub, pam)

    copy = hub.post("/api/integrations", headers=pam.headers,
                    json={"copyFrom": integration, **elsewhere(attacker)})
    assert copy.status_code == 201, copy.get_data(as_text=True)
    use_every_endpoint(hub, pam, copy.get_json()["id"])

    assert attacker.requests("/token"), "the token endpoint was never called"
    assert secrets_seen(attacker, OPERATOR_SECRET) == []
    assert copy.get_json()["hasClientSecret"] is False


def test_a_new_secret_sent_with_the_re_pointing_is_the_one_used(hub, pam, attacker):
    """The owner's own client may go wherever they like: the channel the tests above watch
    does carry a secret, just never the operator's."""
    integration = provisioned(hub, pam)

    moved = hub.put(f"/api/integrations/{integration}", headers=pam.headers,
                    json={**elsewhere(attacker), "clientId": "pams-client",
                          "clientSecret": OWN_SECRET})
    assert moved.status_code == 200, moved.get_data(as_text=True)
    use_every_endpoint(hub, pam, integration)

    assert secrets_seen(attacker, OPERATOR_SECRET, OWN_SECRET) == [OWN_SECRET]
    assert moved.get_json()["hasClientSecret"] is True
