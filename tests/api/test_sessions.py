"""Browser sessions: login/logout, cookie flags and CSRF on cookie-authenticated writes."""

import re

import pytest

from tests import factories


@pytest.fixture
def alice(session):
    factories.user(session, "alice", password="a good long password", superuser=True)
    session.commit()


def login(client, password="a good long password"):
    return client.post("/api/login", json={"username": "alice", "password": password})


def test_login_sets_a_protected_cookie_and_returns_csrf(client, alice):
    answer = login(client)

    assert answer.status_code == 200
    body = answer.get_json()
    assert body["username"] == "alice" and body["csrfToken"]
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("ihub_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development; production sets it (see test_config)
    assert client.get("/api/me").get_json()["username"] == "alice"


@pytest.mark.parametrize("username, password", [
    ("alice", "not-alices-password-9"), ("nobody", "a good long password")])
def test_wrong_credentials(client, alice, username, password):
    answer = client.post("/api/login", json={"username": username, "password": password})
    assert answer.status_code == 401
    assert answer.get_json()["code"] == "invalid_credentials"
    assert client.get("/api/me").status_code == 401


def test_user_without_password_cannot_log_in(client, member):
    answer = client.post("/api/login", json={"username": "mia", "password": "anything at all"})
    assert answer.status_code == 401


def test_cookie_writes_need_the_csrf_token(client, alice):
    csrf = login(client).get_json()["csrfToken"]

    missing = client.post("/api/tokens", json={"name": "x"})
    wrong = client.post("/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "nope"})
    right = client.post("/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})

    assert missing.status_code == 403 and missing.get_json()["code"] == "csrf_failed"
    assert wrong.status_code == 403
    assert right.status_code == 201
    assert client.get("/api/tokens").get_json()["total"] == 1  # reads need no token


def test_bearer_writes_need_no_csrf_even_with_a_cookie(client, alice, admin):
    login(client)
    answer = client.post("/api/tokens", json={}, headers=admin.headers)
    assert answer.status_code == 201
    assert answer.get_json()["username"] == admin.username  # bearer wins over the cookie


def test_logout_ends_the_session(client, alice):
    csrf = login(client).get_json()["csrfToken"]
    assert client.post("/api/logout").status_code == 403  # CSRF needed while signed in
    assert client.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/me").status_code == 401


def test_disabled_user_session_stops_working(client, session, alice):
    from integration_hub.db.models import User

    login(client)
    session.query(User).filter_by(username="alice").one().enabled = False
    session.commit()
    assert client.get("/api/me").status_code == 401


def test_html_login_form_flow(client, alice):
    page = client.get("/login")
    assert page.status_code == 200
    assert "Content-Security-Policy" in page.headers
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)

    no_csrf = client.post("/login", data={"username": "alice", "password": "a good long password"})
    assert no_csrf.status_code == 403
    bad = client.post("/login", data={"username": "alice", "password": "nope", "csrf_token": csrf})
    assert bad.status_code == 401
    good = client.post("/login?next=/", data={"username": "alice", "password": "a good long password",
                                              "csrf_token": csrf})
    assert good.status_code == 303 and good.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200 and "alice" in home.get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_login_never_redirects_off_site(client, alice, target):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/login", query_string={"next": target},
                         data={"username": "alice", "password": "a good long password",
                               "csrf_token": csrf})
    assert answer.headers["Location"] == "/"


def test_start_page_redirects_to_login_when_signed_out(client):
    answer = client.get("/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login")


def test_page_assets_are_served(client):
    page = client.get("/login").get_data(as_text=True)
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page).group(1)
    answer = client.get(stylesheet)
    assert answer.status_code == 200 and answer.mimetype == "text/css"
