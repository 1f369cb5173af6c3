"""An API token works as HTTP Basic from programs: the token as user name, an empty password
(docs/security.md, "API tokens over HTTP Basic")."""

from __future__ import annotations

import base64

from tests import factories


def basic(token: str, password: str = "") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:{password}".encode()).decode()}


def test_the_api_answers_a_token_sent_as_basic(client, member):
    answer = client.get("/api/integrations", headers=basic(member.token))

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "application/hal+json"


def test_the_proxy_takes_basic_and_never_passes_it_on(client, member, keyed, upstream):
    integration = keyed()
    upstream.respond("/v1/accounts", {"json": {"ok": True}})

    answer = client.get(f"/api/integrations/{integration}/request/accounts",
                        headers=basic(member.token))

    assert answer.status_code == 200, answer.get_data(as_text=True)
    (seen,) = upstream.requests("/v1/accounts")
    assert seen.header("X-Api-Key") == "integration-key-123"
    assert seen.header("Authorization") is None
    assert member.token not in str(seen.headers)


def test_a_token_as_basic_keeps_its_scopes(client, session, member):
    user = factories.user(session, "reader")
    reader = factories.token(session, user, "scripts", scopes=["read"])
    session.commit()

    assert client.get("/api/integrations", headers=basic(reader)).status_code == 200
    refused = client.post("/api/tokens", headers=basic(reader), json={"name": "more"})
    assert refused.status_code == 403
    assert refused.get_json()["code"] == "token_scope_insufficient"


def test_a_password_or_an_unknown_token_is_401_with_a_bearer_challenge(client, member):
    with_password = client.get("/api/integrations", headers=basic(member.token, "x"))
    unknown = client.get("/api/integrations", headers=basic("ihub_not-a-token"))

    assert with_password.status_code == 401
    assert with_password.get_json()["code"] == "authentication_required"
    assert unknown.status_code == 401 and unknown.get_json()["code"] == "invalid_token"
    for answer in (with_password, unknown):
        assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
