"""The development stand-ins: a demo OAuth2 provider and an echo upstream."""

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

from integration_hub import create_app
from integration_hub.dev.demo_client import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from tests.conftest import make_settings

VERIFIER = "v" * 50
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
REDIRECT = "http://localhost/oauth2/callback"


def authorize(client, decision="allow", **extra):
    params = {"client_id": DEMO_CLIENT_ID, "redirect_uri": REDIRECT, "state": "st",
              "response_type": "code", "code_challenge": CHALLENGE,
              "code_challenge_method": "S256", "scope": "profile", **extra}
    page = client.get("/dev/oauth/authorize", query_string=params)
    assert page.status_code == 200 and "Allow" in page.get_data(as_text=True)
    answer = client.post("/dev/oauth/authorize", data={**params, "decision": decision})
    assert answer.status_code == 303
    return parse_qs(urlsplit(answer.headers["Location"]).query)


def token(client, **form):
    return client.post("/dev/oauth/token", data={"client_id": DEMO_CLIENT_ID,
                                                 "client_secret": DEMO_CLIENT_SECRET, **form})


def test_demo_provider_issues_refreshes_and_checks_tokens(client):
    code = authorize(client)["code"][0]

    issued = token(client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                   code_verifier=VERIFIER)
    assert issued.status_code == 200
    tokens = issued.get_json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    profile = client.get("/dev/oauth/userinfo",
                         headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert profile.get_json()["email"] == "guest@example.com"

    renewed = token(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert renewed.status_code == 200
    assert renewed.get_json()["refresh_token"] != tokens["refresh_token"]


def test_demo_provider_refuses_what_a_real_one_would(client):
    assert authorize(client, decision="deny")["error"] == ["access_denied"]
    code = authorize(client)["code"][0]
    assert token(client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                 code_verifier="wrong" * 10).get_json()["error"] == "invalid_grant"
    assert token(client, grant_type="authorization_code", code=code,
                 redirect_uri="http://localhost/other", code_verifier=VERIFIER
                 ).get_json()["error"] == "invalid_grant"
    wrong_client = client.post("/dev/oauth/token", data={"client_id": DEMO_CLIENT_ID,
                                                         "client_secret": "nope",
                                                         "grant_type": "refresh_token"})
    assert wrong_client.status_code == 401
    assert client.get("/dev/oauth/userinfo",
                      headers={"Authorization": "Bearer forged"}).status_code == 401


def test_echo_upstream_returns_the_request(client):
    answer = client.post("/dev/echo/items/7?x=1", data="hello",
                         headers={"X-Test": "yes", "Cookie": "secret=1", "X-Api-Key": "k-123",
                                  "Authorization": "Bearer t-456"})
    echoed = answer.get_json()
    assert echoed["method"] == "POST" and echoed["path"] == "/items/7"
    assert echoed["query"] == {"x": ["1"]} and echoed["body"] == "hello"
    assert echoed["headers"]["X-Test"] == "yes" and "Cookie" not in echoed["headers"]
    assert echoed["headers"]["X-Api-Key"] == "***"
    assert echoed["headers"]["Authorization"] == "Bearer ***"


def test_production_has_no_dev_tools(migrated_app, tmp_path):
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url, tmp_path,
                             HUB_ENV="production")
    production = create_app(settings).test_client()
    assert production.get("/dev/echo/x").status_code == 404
    assert production.get("/dev/oauth/authorize").status_code == 404
