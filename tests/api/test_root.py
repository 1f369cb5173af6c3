"""The API root, relation pages, authentication answers and links behind a proxy."""

from datetime import timedelta

import pytest

from integration_hub import create_app
from integration_hub.db.models import ApiToken, User
from integration_hub.db.types import utcnow
from integration_hub.hal import documents as hal
from integration_hub.hal.relations import RELATIONS
from tests import factories
from tests.conftest import make_settings
from tests.secret_watch import is_valid_uri_template


def test_root_links_every_entry_point_with_curies(client, member):
    answer = client.get("/api", headers=member.headers)

    assert answer.status_code == 200
    assert answer.mimetype == "application/hal+json"
    assert "Accept" in answer.headers["Vary"]
    links = answer.get_json()["_links"]
    assert links["self"] == {"href": "/api"}
    assert links["curies"] == [{"name": "inf", "href": "/api/rels/{rel}", "templated": True}]
    assert links["describedby"]["href"] == "/api/openapi.json"
    for rel, href in {"inf:me": "/api/me", "inf:users": "/api/users", "inf:teams": "/api/teams",
                      "inf:tokens": "/api/tokens", "inf:tenant": "/api/tenant"}.items():
        assert links[rel] == {"href": href}


@pytest.mark.parametrize("who", ["member", "admin"])
def test_every_root_link_resolves_for_the_caller(client, request, who):
    caller = request.getfixturevalue(who)
    links = client.get("/api", headers=caller.headers).get_json()["_links"]
    for rel, target in links.items():
        if rel == "curies":
            continue
        answer = client.get(target["href"], headers=caller.headers)
        assert answer.status_code == 200, (rel, target, answer.get_data(as_text=True))


def test_administration_entry_points_only_for_administrators(client, member, admin):
    """Webhooks and the audit log answer 403 to others, so only administrators get the links."""
    for_member = client.get("/api", headers=member.headers).get_json()["_links"]
    for_admin = client.get("/api", headers=admin.headers).get_json()["_links"]

    assert "inf:webhooks" not in for_member and "inf:audit" not in for_member
    assert for_admin["inf:webhooks"] == {"href": "/api/webhooks"}
    assert for_admin["inf:audit"] == {"href": "/api/audit"}


@pytest.mark.parametrize("rel", sorted(RELATIONS))
def test_relation_pages_describe_each_relation(client, rel):
    answer = client.get(f"/api/rels/{rel}")

    assert answer.status_code == 200
    assert answer.mimetype == "text/html"
    assert f"inf:{rel}" in answer.get_data(as_text=True)


def test_unknown_relation_is_a_problem(client):
    answer = client.get("/api/rels/no-such-rel")
    assert answer.status_code == 404
    assert answer.mimetype == "application/problem+json"


def test_inf_relations_used_by_the_root_are_documented(client, member):
    links = client.get("/api", headers=member.headers).get_json()["_links"]
    used = {rel.split(":", 1)[1] for rel in links if rel.startswith("inf:")}
    assert used <= set(RELATIONS)


def test_no_credentials_is_401_with_bearer_challenge(client):
    answer = client.get("/api/me")

    assert answer.status_code == 401
    assert answer.mimetype == "application/problem+json"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.get_json()["code"] == "authentication_required"


def test_a_client_without_credentials_is_shown_where_to_sign_in(client):
    """The root needs credentials too, so its 401 links the one way in for a person."""
    answer = client.get("/api")
    login = answer.get_json()["_links"]["inf:login"]["href"]

    signed_in = client.post(login, json={"username": "nobody", "password": "wrong"})
    assert signed_in.status_code == 401  # the route takes credentials: this is the login
    assert signed_in.get_json()["code"] == "invalid_credentials"


@pytest.mark.parametrize("header", [
    "Bearer ihub_not-a-real-token",
    "Bearer something-else",
    "Bearer ",
    "Basic YWRtaW46YWRtaW4=",
    "ihub_token-without-scheme",
])
def test_wrong_credentials_are_401(client, header):
    answer = client.get("/api/me", headers={"Authorization": header})

    assert answer.status_code == 401
    assert answer.mimetype == "application/problem+json"
    assert "Bearer" in answer.headers["WWW-Authenticate"]


def test_expired_token_is_rejected(client, session):
    user = factories.user(session, "old")
    expired = factories.token(session, user, expires_at=utcnow() + timedelta(minutes=1))
    session.commit()
    assert client.get("/api/me", headers={"Authorization": f"Bearer {expired}"}).status_code == 200
    session.query(ApiToken).one().expires_at = utcnow() - timedelta(seconds=1)
    session.commit()

    answer = client.get("/api/me", headers={"Authorization": f"Bearer {expired}"})
    assert answer.status_code == 401
    assert answer.get_json()["code"] == "invalid_token"


def test_disabled_user_token_is_rejected(client, session, member):
    assert client.get("/api/me", headers=member.headers).status_code == 200
    session.query(User).filter_by(username=member.username).one().enabled = False
    session.commit()

    assert client.get("/api/me", headers=member.headers).status_code == 401


def test_token_use_is_recorded(client, session, member):
    client.get("/api/me", headers=member.headers)
    tokens = client.get("/api/tokens", headers=member.headers).get_json()
    assert tokens["_embedded"]["inf:token"][0]["lastUsedAt"] is not None


def test_links_carry_the_forwarded_prefix_scheme_and_host(migrated_app, tmp_path, make_caller):
    caller = make_caller("proxied")
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url, tmp_path,
                             HUB_TRUSTED_PROXIES="1")
    behind_proxy = create_app(settings).test_client()
    headers = {**caller.headers, "X-Forwarded-Prefix": "/hub", "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": "hub.example.org"}

    links = behind_proxy.get("/api", headers=headers).get_json()["_links"]

    assert links["self"]["href"] == "/hub/api"
    assert links["curies"][0]["href"] == "/hub/api/rels/{rel}"
    assert links["inf:users"]["href"] == "/hub/api/users"
    page = behind_proxy.get("/api/users", headers=headers).get_json()
    assert page["_links"]["next" if page["total"] > 50 else "first"]["href"].startswith("/hub/api/users")


def test_forwarded_headers_are_ignored_without_trusted_proxies(client, member):
    headers = {**member.headers, "X-Forwarded-Prefix": "/evil"}
    assert client.get("/api", headers=headers).get_json()["_links"]["self"]["href"] == "/api"


def test_public_url_pins_scheme_host_and_prefix(migrated_app, tmp_path, make_caller):
    caller = make_caller("pinned")
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url, tmp_path,
                             HUB_PUBLIC_URL="https://hub.example.org/tools")
    answer = create_app(settings).test_client().get(
        "/tools/api", headers=caller.headers, base_url="http://10.0.0.5:8000")
    assert answer.status_code == 200
    assert answer.get_json()["_links"]["self"]["href"] == "/tools/api"


def test_every_link_in_root_is_a_valid_template(client, member):
    links = client.get("/api", headers=member.headers).get_json()["_links"]
    for value in links.values():
        for item in value if isinstance(value, list) else [value]:
            assert is_valid_uri_template(item["href"])
            assert item.get("templated", False) == hal.is_uri_template(item["href"])


def test_public_url_wins_over_forwarded_headers(migrated_app, tmp_path, make_caller,
                                                oauth_integration):
    """Behind a trusted proxy, a client's own X-Forwarded-* must not move the hub's links,
    the OAuth flow's start address, its redirect_uri or its cookie's path away from
    HUB_PUBLIC_URL; the client's address still counts."""
    caller = make_caller("pinned", password="pinned's long enough password")
    integration = oauth_integration(shares={"pinned": 1})
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url, tmp_path,
                             HUB_PUBLIC_URL="https://hub.example.org/tools", HUB_TRUSTED_PROXIES="1")
    client = create_app(settings).test_client()
    forged = {**caller.headers, "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http",
              "X-Forwarded-Prefix": "/other", "X-Forwarded-Port": "8080",
              "X-Forwarded-For": "203.0.113.7"}

    connect = client.get(f"/tools/api/integrations/{integration}/connect", headers=forged)

    assert connect.status_code == 302
    start = connect.headers["Location"]
    assert start.startswith("https://hub.example.org/tools/oauth2/start/"), start
    # the user's browser, signed in, opens the start address and goes on to the provider
    forged_browser = {k: v for k, v in forged.items() if k != "Authorization"}
    assert client.post("/tools/api/login", headers=forged_browser, json={
        "username": "pinned", "password": "pinned's long enough password"}).status_code == 200
    opened = client.get(start.removeprefix("https://hub.example.org"), headers=forged_browser)
    assert opened.status_code == 302, opened.get_data(as_text=True)
    location = opened.headers["Location"]
    assert "redirect_uri=https%3A%2F%2Fhub.example.org%2Ftools%2Foauth2%2Fcallback" in location
    assert "evil.example" not in location
    (cookie,) = [c for c in opened.headers.getlist("Set-Cookie") if "oauth2/callback" in c]
    assert "Path=/tools/oauth2/callback" in cookie and "Secure" in cookie
    assert client.get("/tools/api", headers=forged).get_json()["_links"]["self"]["href"] == "/tools/api"
