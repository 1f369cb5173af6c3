"""The OAuth2 connect flow against a real authorization server process.

The browser is played by the test: a flow started with the caller's API token answers a
one-time start address, which the caller's browser (the test client, signed in to the hub
as them) opens; the hub's redirect is followed to the provider with ``requests`` and the
provider's redirect back is handed to the hub's callback in the same browser. What the
hub sent is asserted from the server's recordings.
"""

import base64
import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select, update

from integration_hub.db.models import Connection, Integration, OAuthState
from integration_hub.db.types import utcnow
from tests import factories
from tests.support.problems import assert_problem

CALLBACK = "http://localhost/oauth2/callback"
PASSWORD = "a long enough password to sign in"


@pytest.fixture
def member(make_caller):
    """mia, with an API token and a password: her browser signs in to the hub."""
    return make_caller("mia", display_name="Mia Member", email="mia@example.com",
                       password=PASSWORD)


def sign_in(client, username: str) -> None:
    answer = client.post("/api/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.get_data(as_text=True)


def start(client, caller, integration, **query):
    """Start with the caller's token; then ``client``, their browser signed in to the hub,
    opens the one-time start address, which sends it on to the provider."""
    started = client.get(f"/api/integrations/{integration}/connect", headers=caller.headers,
                         query_string=query)
    if started.status_code != 302:
        return started
    sign_in(client, caller.username)
    return client.get(urlsplit(started.headers["Location"]).path)


def to_provider(location: str) -> str:
    """Follow the hub's redirect to the provider; answer where it sends the browser back."""
    with requests.Session() as http:
        http.trust_env = False
        answer = http.get(location, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def back_to_hub(client, location: str, **kwargs):
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK
    return client.get(f"{parts.path}?{parts.query}", **kwargs)


def connect(client, caller, integration, **query):
    started = start(client, caller, integration, **query)
    assert started.status_code == 302, started.get_data(as_text=True)
    return back_to_hub(client, to_provider(started.headers["Location"]))


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def only(items):
    assert len(items) == 1, items
    return items[0]


def test_connect_sends_pkce_exact_redirect_uri_and_client_auth(client, member, oauth_server,
                                                               oauth_integration):
    integration = oauth_integration(shares={"mia": 1}, data={"authParams": {"prompt": "consent"}})

    finished = connect(client, member, integration)

    assert finished.status_code == 200 and "Connected" in finished.get_data(as_text=True)
    authorize = only(oauth_server.requests("/authorize"))["query"]
    token = only(oauth_server.requests("/token"))["form"]
    assert authorize["redirect_uri"] == token["redirect_uri"] == CALLBACK
    assert authorize["code_challenge_method"] == "S256"
    assert s256(token["code_verifier"]) == authorize["code_challenge"]
    assert authorize["client_id"] == "hub-client" and authorize["scope"] == "openid email"
    assert authorize["prompt"] == "consent" and authorize["response_type"] == "code"
    assert token["grant_type"] == "authorization_code"
    assert token["client_id"] == "hub-client" and token["client_secret"] == "hub-client-secret-value"

    connection = client.get(f"/api/integrations/{integration}/connection",
                            headers=member.headers).get_json()
    assert connection["status"] == "active" and connection["ownerId"] == "mia"
    assert connection["account"] == {"email": "ada@example.com", "displayName": "Ada Lovelace",
                                     "accountId": "user-123"}
    assert connection["tokenExpiresAt"] is not None and connection["isShared"] is False
    assert not {"accessToken", "refreshToken", "access_token"} & set(connection)


def test_basic_client_authentication(client, member, oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1}, basic_token_auth=True, data={"pkce": False})

    assert connect(client, member, integration).status_code == 200

    authorize = only(oauth_server.requests("/authorize"))["query"]
    token = only(oauth_server.requests("/token"))
    assert "code_challenge" not in authorize and "code_verifier" not in token["form"]
    assert "client_secret" not in token["form"]
    scheme, _, encoded = token["headers"]["authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == "hub-client:hub-client-secret-value"


def test_return_to_path_gets_the_result(client, member, oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    finished = connect(client, member, integration, returnTo="/?tab=mine")
    assert finished.status_code == 303
    assert finished.headers["Location"] == f"/?tab=mine&status=connected&integration={integration}"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "javascript:x",
                                    "/\\evil.example"])
def test_foreign_return_to_is_refused_before_anything_starts(client, session, member, oauth_server,
                                                             oauth_integration, target):
    integration = oauth_integration(shares={"mia": 1})
    answer = start(client, member, integration, returnTo=target)
    assert answer.status_code == 422 and answer.get_json()["code"] == "invalid_return_to"
    assert session.scalars(select(OAuthState)).all() == []


def test_flow_answers_for_non_oauth_and_disabled(client, member, make_integration, oauth_integration):
    keyed = make_integration("Keyed", type="custom", auth_type="apikey", mode="per-user",
                             shares={"mia": 1})
    answer = start(client, member, keyed)
    assert answer.status_code == 409 and answer.get_json()["code"] == "connect_needs_credentials"
    assert answer.get_json()["_links"]["inf:connect"]["href"] == f"/api/integrations/{keyed}/connect"
    off = oauth_integration("Off", enabled=False, shares={"mia": 1})
    assert start(client, member, off).get_json()["code"] == "integration_disabled"


def test_shared_mode_needs_write_access_to_connect(client, member, make_caller, oauth_integration):
    writer = make_caller("wes", password=PASSWORD)
    integration = oauth_integration(mode="shared", shares={"mia": 1, "wes": 2})
    assert start(client, member, integration).status_code == 403
    finished = connect(client, writer, integration)
    assert finished.status_code == 200
    shared = client.get(f"/api/integrations/{integration}/connection", headers=member.headers)
    assert shared.get_json()["isShared"] is True and shared.get_json()["ownerId"] == "wes"



UNSET_CLIENT_ID = "replace-with-your-client-id"  # what the demo puts in place of GitHub's


def test_an_oauth_integration_whose_client_id_is_not_set_is_not_started(
        client, session, member, make_integration):
    """Sending the browser to the provider with a placeholder client id only earns an error
    page there: the hub refuses first, with a token and in the browser alike."""
    github = make_integration("GitHub", type="github", auth_type="oauth2", client_id=UNSET_CLIENT_ID,
                              shares={"mia": 1})
    with_token = client.get(f"/api/integrations/{github}/connect", headers=member.headers)
    body = assert_problem(with_token, 409, "integration_needs_setup")
    assert "administrator" in body["detail"]
    sign_in(client, member.username)
    in_browser = client.get(f"/api/integrations/{github}/connect")
    assert_problem(in_browser, 409, "integration_needs_setup")
    assert "Location" not in in_browser.headers
    assert session.scalars(select(OAuthState)).all() == []


def test_an_integration_that_needs_setup_offers_no_connect(client, member, make_integration):
    """Links and forms offer only what would work: no connect before the client id is set."""
    github = make_integration("GitHub", type="github", auth_type="oauth2", client_id=UNSET_CLIENT_ID,
                              shares={"mia": 1})
    forms = {**member.headers, "Accept": "application/prs.hal-forms+json"}
    before = client.get(f"/api/integrations/{github}", headers=forms).get_json()
    assert "inf:connect" not in before["_links"] and "connect" not in before["_templates"]
    missing = client.get(f"/api/integrations/{github}/connection", headers=member.headers)
    assert "inf:connect" not in assert_problem(missing, 404, "integration_not_connected").get(
        "_links", {})
    set_up = make_integration("GitHub 2", type="github", auth_type="oauth2", client_id="abc",
                              shares={"mia": 1})
    after = client.get(f"/api/integrations/{set_up}", headers=forms).get_json()
    assert "inf:connect" in after["_links"]


def test_a_start_address_opened_after_the_client_id_was_unset_goes_nowhere(
        client, session, member, oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    started = client.get(f"/api/integrations/{integration}/connect", headers=member.headers)
    assert started.status_code == 302
    session.execute(update(Integration).where(Integration.id == integration)
                    .values(client_id=UNSET_CLIENT_ID))
    session.commit()
    sign_in(client, member.username)
    opened = client.get(urlsplit(started.headers["Location"]).path)
    assert opened.status_code == 409
    assert 'data-code="integration_needs_setup"' in opened.get_data(as_text=True)
    assert oauth_server.requests("/authorize") == []

# -- every way the callback can fail: nothing is exchanged, nothing stored ------------

def assert_failed_without_exchange(answer, code, oauth_server, session):
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert f"<code>{code}</code>" in answer.get_data(as_text=True)
    assert oauth_server.requests("/token") == []
    assert session.scalars(select(Connection)).all() == []


def test_callback_without_state(client, session, oauth_server):
    answer = client.get("/oauth2/callback?code=abc")
    assert_failed_without_exchange(answer, "state_missing", oauth_server, session)


def test_callback_with_unknown_state(client, session, oauth_server):
    answer = client.get("/oauth2/callback?code=abc&state=made-up")
    assert_failed_without_exchange(answer, "state_unknown", oauth_server, session)


def test_callback_state_expires(client, session, member, oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    back = to_provider(start(client, member, integration).headers["Location"])
    session.execute(update(OAuthState).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert_failed_without_exchange(back_to_hub(client, back), "state_expired", oauth_server, session)


def test_callback_state_is_single_use(client, session, member, oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    back = to_provider(start(client, member, integration).headers["Location"])
    assert back_to_hub(client, back).status_code == 200
    oauth_server.reset()
    session.execute(Connection.__table__.delete())
    session.commit()
    assert_failed_without_exchange(back_to_hub(client, back), "state_reused", oauth_server, session)


def test_callback_by_another_signed_in_user(client, app, session, member, oauth_server,
                                            oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    back = to_provider(start(client, member, integration).headers["Location"])
    factories.user(session, "eve", password="eve's long password")
    session.commit()
    browser = app.test_client()
    assert browser.post("/api/login", json={"username": "eve", "password": "eve's long password"}
                        ).status_code == 200
    assert_failed_without_exchange(back_to_hub(browser, back), "state_user_mismatch",
                                   oauth_server, session)


def test_provider_error(client, session, member, oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    oauth_server.next_authorize(error="access_denied", error_description="user said no")
    answer = back_to_hub(client, to_provider(start(client, member, integration).headers["Location"]))
    assert_failed_without_exchange(answer, "provider_error", oauth_server, session)
    assert "access_denied" in answer.get_data(as_text=True)


def test_issuer_mismatch(client, session, member, oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    oauth_server.next_authorize(iss="https://other-issuer.example")
    answer = back_to_hub(client, to_provider(start(client, member, integration).headers["Location"]))
    assert_failed_without_exchange(answer, "issuer_mismatch", oauth_server, session)


def test_matching_issuer_is_accepted(client, member, oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    oauth_server.next_authorize(iss=oauth_server.issuer)
    answer = back_to_hub(client, to_provider(start(client, member, integration).headers["Location"]))
    assert answer.status_code == 200


def test_failed_exchange_stores_nothing_and_redirects_with_the_code(
        client, session, member, oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    oauth_server.queue_token_responses({"status": 400, "body": {"error": "invalid_grant"}})
    back = to_provider(start(client, member, integration, returnTo="/").headers["Location"])
    answer = back_to_hub(client, back)
    assert answer.status_code == 303
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["status"] == ["error"] and query["code"] == ["token_exchange_failed"]
    assert session.scalars(select(Connection)).all() == []


def test_disconnect_revokes_and_forgets(client, session, member, oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    connect(client, member, integration)

    assert client.delete(f"/api/integrations/{integration}/connection",
                         headers=member.headers).status_code == 204

    revoke = only(oauth_server.requests("/revoke"))["form"]
    assert revoke["token_type_hint"] == "refresh_token" and revoke["token"].startswith("rt-")
    assert client.get(f"/api/integrations/{integration}/connection",
                      headers=member.headers).status_code == 404
    assert session.scalars(select(Connection)).all() == []
