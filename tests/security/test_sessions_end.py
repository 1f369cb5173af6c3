"""A browser session ends when it should, everywhere at once: signing out, a new password,
a disabled user and "sign out everywhere" make a copied cookie worthless on the next
request, in every process of the hub, because the session lives in the hub's database."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import requests
from sqlalchemy import text

from integration_hub.db.types import utcnow
from integration_hub.hal.forms import HAL_FORMS
from integration_hub.identity import browser_sessions
from integration_hub.identity import directory as identity
from tests import factories
from tests.support.problems import assert_problem
from tests.support.served_hub import production_hub

PASSWORD = "a good long password"
COOKIE = "ihub_session"


@pytest.fixture
def alice(session):
    factories.user(session, "alice", password=PASSWORD)
    session.commit()


def sign_in(app, username="alice", password=PASSWORD):
    """A new browser signed in as ``username``; answers the client and its CSRF token."""
    browser = app.test_client()
    answer = browser.post("/api/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return browser, answer.get_json()["csrfToken"]


def copy_of(app, browser):
    """Another browser holding the same cookie (a stolen or copied one)."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, browser.get_cookie(COOKIE).value)
    return thief


def signed_in(browser) -> bool:
    answer = browser.get("/api/me")
    assert answer.status_code in (200, 401), answer.get_data(as_text=True)
    return answer.status_code == 200


def test_a_copied_cookie_stops_working_when_its_browser_signs_out(app, alice):
    browser, csrf = sign_in(app)
    thief = copy_of(app, browser)
    assert signed_in(thief)

    assert browser.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 204

    assert not signed_in(thief)
    assert_problem(thief.get("/api/me"), 401, "authentication_required")
    assert not signed_in(browser)


def test_signing_out_by_the_form_ends_the_session_too(app, alice):
    browser, csrf = sign_in(app)
    thief = copy_of(app, browser)
    assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 303
    assert not signed_in(thief)


def test_a_new_password_ends_the_users_sessions(app, client, alice, admin, make_caller):
    browser, _ = sign_in(app)
    make_caller("bob", password=PASSWORD)
    bobs_browser, _ = sign_in(app, "bob")

    answer = client.put("/api/users/alice", headers=admin.headers,
                        json={"password": "another good password"})
    assert answer.status_code == 200, answer.get_data(as_text=True)

    assert not signed_in(browser)
    assert signed_in(bobs_browser)  # only alice's sessions end
    assert signed_in(sign_in(app, password="another good password")[0])


def test_other_changes_keep_the_sessions(app, client, alice, admin):
    browser, _ = sign_in(app)
    assert client.put("/api/users/alice", headers=admin.headers,
                      json={"displayName": "Alice A."}).status_code == 200
    assert signed_in(browser)


def test_a_disabled_user_stays_signed_out_when_enabled_again(app, client, alice, admin):
    browser, _ = sign_in(app)

    for enabled in (False, True):
        answer = client.put("/api/users/alice", headers=admin.headers, json={"enabled": enabled})
        assert answer.status_code == 200, answer.get_data(as_text=True)

    assert not signed_in(browser)


def test_sign_out_everywhere_ends_every_browser_of_the_user(app, alice, make_caller):
    laptop, csrf = sign_in(app)
    phone, _ = sign_in(app)
    carl = make_caller("carl", password=PASSWORD)
    carls_browser, _ = sign_in(app, "carl")  # someone else's session is not touched

    me = laptop.get("/api/me", headers={"Accept": HAL_FORMS}).get_json()
    target = me["_links"]["inf:sessions"]["href"]
    form = next(t for t in me["_templates"].values() if t["target"] == target)
    assert form["method"] == "DELETE"

    assert_problem(laptop.delete(target), 403, "csrf_failed")
    assert laptop.delete(target, headers={"X-CSRF-Token": csrf}).status_code == 204

    assert not signed_in(laptop) and not signed_in(phone)
    assert signed_in(carls_browser)
    assert laptop.get("/api/me", headers=carl.headers).status_code == 200


def test_sign_out_everywhere_with_an_api_token(app, client, alice, make_caller):
    browser, _ = sign_in(app)
    caller = make_caller("dora", password=PASSWORD)
    doras_browser, _ = sign_in(app, "dora")

    assert client.delete("/api/me/sessions", headers=caller.headers).status_code == 204

    assert not signed_in(doras_browser)
    assert signed_in(browser)
    assert client.get("/api/me", headers=caller.headers).status_code == 200  # tokens stay


def test_an_administrator_signs_a_user_out_everywhere(app, client, alice, admin, member):
    browser, _ = sign_in(app)
    user = client.get("/api/users/alice", headers=admin.headers).get_json()
    target = user["_links"]["inf:sessions"]["href"]

    assert_problem(client.delete(target, headers=member.headers), 403, "forbidden")
    assert signed_in(browser)
    assert_problem(client.delete("/api/users/nobody/sessions", headers=admin.headers), 404,
                   "user_not_found")

    assert client.delete(target, headers=admin.headers).status_code == 204
    assert not signed_in(browser)
    entries = client.get("/api/audit", headers=admin.headers).get_json()["_embedded"]
    assert any(entry["action"] == "user.sign_out_everywhere" and entry["targetId"] == "alice"
               for entry in entries["inf:audit-entry"])


def test_the_database_holds_a_digest_of_the_session_id_only(app, alice, session):
    browser, _ = sign_in(app)
    cookie = browser.get_cookie(COOKIE).value
    with app.test_request_context():
        content = app.session_interface.get_signing_serializer(app).loads(cookie)
    assert set(content) == {"sid", "csrf", "_permanent"}
    rows = [tuple(row) for row in session.execute(text("SELECT * FROM browser_sessions"))]
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0])
    assert content["sid"] not in stored
    assert hashlib.sha256(content["sid"].encode()).hexdigest() in stored


def test_a_deleted_user_leaves_no_session_behind(app, client, alice, admin, session):
    browser, _ = sign_in(app)
    assert client.delete("/api/users/alice", headers=admin.headers).status_code == 204
    assert not signed_in(browser)
    assert session.execute(text("SELECT count(*) FROM browser_sessions")).scalar_one() == 0


# -- many processes ----------------------------------------------------------------------------

def test_signing_out_ends_the_session_in_every_process(tmp_path):
    with production_hub(tmp_path) as hub:
        admin = {"Authorization": f"Bearer {hub.token}"}
        with requests.Session() as http:
            http.trust_env = False
            assert http.put(f"{hub.base}/api/users/ops", headers=admin,
                            json={"password": PASSWORD}).status_code == 200
            answer = http.post(f"{hub.base}/api/login",
                               json={"username": "ops", "password": PASSWORD})
            assert answer.status_code == 200
            cookie = {"Cookie": f"{COOKIE}={answer.cookies[COOKIE]}"}
            csrf = answer.json()["csrfToken"]

        def me() -> int:  # a new connection each time: any worker process may answer
            return requests.get(f"{hub.base}/api/me", headers={**cookie, "Connection": "close"}
                                ).status_code

        assert {me() for _ in range(8)} == {200}
        out = requests.post(f"{hub.base}/api/logout",
                            headers={**cookie, "X-CSRF-Token": csrf, "Connection": "close"})
        assert out.status_code == 204
        assert {me() for _ in range(16)} == {401}


# -- signing in again ----------------------------------------------------------------------------

def test_signing_in_again_ends_the_session_the_cookie_named(app, alice, make_caller):
    make_caller("bob", password=PASSWORD)
    browser, _ = sign_in(app)
    thief = copy_of(app, browser)

    answer = browser.post("/api/login", json={"username": "bob", "password": PASSWORD})
    assert answer.status_code == 200, answer.get_data(as_text=True)

    assert not signed_in(thief)
    assert browser.get("/api/me").get_json()["username"] == "bob"


def test_signing_in_again_by_the_form_ends_the_session_too(app, alice):
    browser, _ = sign_in(app)
    thief = copy_of(app, browser)
    page = browser.get("/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]

    answer = browser.post("/login", data={"username": "alice", "password": PASSWORD,
                                          "csrf_token": csrf})
    assert answer.status_code == 303, answer.get_data(as_text=True)

    assert not signed_in(thief)
    assert signed_in(browser)


def test_signing_in_purges_every_expired_session(app, alice, make_caller, session):
    make_caller("bob", password=PASSWORD)
    bob = identity.get_user(session, "default", "bob")
    long_ago = utcnow() - timedelta(days=30)
    browser_sessions.start(session, bob, timedelta(hours=12))  # one he still uses
    for _ in range(3):  # and three of a month ago, from browsers that never came back
        browser_sessions.start(session, bob, timedelta(hours=12), now=long_ago)
    session.commit()
    assert session.execute(text("SELECT count(*) FROM browser_sessions")).scalar_one() == 4

    sign_in(app)  # alice

    session.commit()  # a fresh read
    names = session.scalars(text("SELECT u.username FROM browser_sessions s "
                                 "JOIN users u ON u.id = s.user_id")).all()
    assert sorted(names) == ["alice", "bob"]


# -- signing out everywhere, oneself -------------------------------------------------------------

def audit_entries(client, admin) -> list[dict]:
    answer = client.get("/api/audit", headers=admin.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()["_embedded"]["inf:audit-entry"]


def test_signing_oneself_out_everywhere_is_audited(app, client, alice, admin, member):
    browser, csrf = sign_in(app)
    assert browser.delete("/api/me/sessions", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.delete("/api/me/sessions", headers=member.headers).status_code == 204

    entries = [(e["actor"], e["action"], e["targetType"], e["targetId"], e["outcome"])
               for e in audit_entries(client, admin)]
    for name in ("alice", "mia"):
        assert (name, "user.sign_out_everywhere", "user", name, "success") in entries


def test_a_users_own_resource_offers_signing_out_everywhere(client, member, admin):
    forms = {"Accept": HAL_FORMS, **member.headers}
    own = client.get(f"/api/users/{member.username}", headers=forms).get_json()
    form = own["_templates"]["signOutEverywhere"]
    assert form["method"] == "DELETE" and form["target"] == own["_links"]["inf:sessions"]["href"]
    # and the form works for them
    assert client.delete(form["target"], headers=member.headers).status_code == 204

    someone_else = client.get(f"/api/users/{admin.username}", headers=forms).get_json()
    assert "signOutEverywhere" not in someone_else.get("_templates", {})
    assert client.delete(someone_else["_links"]["inf:sessions"]["href"],
                         headers=member.headers).status_code == 403
