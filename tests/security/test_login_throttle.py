"""The sign-in throttle's own rows: whatever a caller types as tenant and username, a sign-in
answers a problem (never a 500), the table holds a digest of what was typed (people type their
password into the username field), and it does not grow past the windows that still count:
rows of windows that have passed go, and an address that is throttled adds no row per username
it invents. Other counters of the table (the proxy's rate limits) never reset the throttle."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from integration_hub import errors
from integration_hub.identity import login_throttle
from integration_hub.proxy import rate_limits
from tests import factories
from tests.support.problems import assert_problem

PASSWORD = "a good long password"
LIMIT = 5  # HUB_LOGIN_MAX_FAILURES default
WINDOW = 900  # HUB_LOGIN_WINDOW default
T0 = 1_800_000_000 // WINDOW * WINDOW  # the start of a sign-in window
LONG = "t" * 300


@pytest.fixture
def alice(session):
    factories.user(session, "alice", password=PASSWORD)
    session.commit()


def counters(session) -> list[tuple]:
    session.commit()  # a fresh read
    return [tuple(row) for row in session.execute(text("SELECT * FROM rate_limit_counters"))]


def attempt(app, session, username, password="wrong guess", client="10.9.0.1", now=T0 + 1.0,
            tenant="default"):
    """One sign-in through the service at ``now``: "ok", or the error's code."""
    try:
        login_throttle.check_password(session, app.config["HUB_SETTINGS"], tenant, username,
                                      password, client, now=now)
    except errors.HubError as refused:
        return refused.code
    return "ok"


# -- what is typed ------------------------------------------------------------------------------

@pytest.mark.parametrize("fields", [
    {"tenant": LONG}, {"username": "u" * 65}, {"tenant": LONG, "username": "u" * 300},
    {"tenant": "t" * 65}, {"password": "p" * 1025},
], ids=["long tenant", "long username", "both long", "tenant just too long",
        "long password"])
def test_too_long_fields_are_refused_before_anything_is_counted(client, session, alice, fields):
    body = {"username": "alice", "password": PASSWORD, **fields}
    problem = assert_problem(client.post("/api/login", json=body), 422, "validation_failed")
    assert set(problem["errors"]) == set(fields)
    assert counters(session) == []


def test_too_long_fields_are_refused_alike_for_users_that_exist_and_not(client, alice):
    answers = [client.post("/api/login", json={"tenant": LONG, "username": name,
                                               "password": PASSWORD}) for name in ("alice", "nobody")]
    assert [a.status_code for a in answers] == [422, 422]
    assert answers[0].get_json() == answers[1].get_json()


def _form(client, **fields):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": "alice", "password": PASSWORD,
                                       "csrf_token": csrf, **fields})


@pytest.mark.parametrize("fields", [{"tenant": LONG}, {"username": "u" * 300},
                                    {"password": "p" * 2000}])
def test_the_sign_in_form_refuses_too_long_fields(client, session, alice, fields):
    answer = _form(client, **fields)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert "too long" in answer.get_data(as_text=True)
    assert client.get("/api/me").status_code == 401
    assert counters(session) == []


def test_the_longest_names_are_counted_and_throttled(client, session, one_sign_in_window):
    tenant, username = "t" * 64, "u" * 64
    factories.user(session, username, tenant=tenant, password=PASSWORD)
    session.commit()
    body = {"tenant": tenant, "username": username}
    assert client.post("/api/login", json={**body, "password": PASSWORD}).status_code == 200
    for _ in range(LIMIT):
        assert_problem(client.post("/api/login", json={**body, "password": "wrong"}), 401,
                       "invalid_credentials")
    assert_problem(client.post("/api/login", json={**body, "password": PASSWORD}), 429,
                   "sign_in_throttled")


def test_the_table_holds_no_typed_username(client, session):
    typed = "my-password-typed-in-the-wrong-field"
    assert client.post("/api/login", json={"username": typed, "password": "x"}).status_code == 401
    rows = counters(session)
    assert rows and all(typed not in " ".join(map(str, row)) for row in rows)
    assert all(len(row[0]) <= 80 for row in rows)  # a prefix and a SHA-256 digest


# -- how many rows ------------------------------------------------------------------------------

def test_rows_of_windows_that_have_passed_are_purged(app, session):
    for n in range(30):
        assert attempt(app, session, f"invented{n}", client=f"10.9.1.{n}") == "invalid_credentials"
    assert len(counters(session)) == 60

    assert attempt(app, session, "later", now=T0 + WINDOW + 1.0) == "invalid_credentials"

    assert {row[1] for row in counters(session)} == {T0 + WINDOW}
    assert len(counters(session)) == 2


def test_a_throttled_address_adds_no_row_per_invented_username(app, session):
    answers = [attempt(app, session, f"invented{n}") for n in range(50)]
    assert answers == ["invalid_credentials"] * LIMIT + ["sign_in_throttled"] * (50 - LIMIT)
    assert len(counters(session)) <= LIMIT + 2  # the address, and the users counted


def test_the_proxys_counters_never_reset_the_throttle(app, session, alice):
    for _ in range(LIMIT):
        assert attempt(app, session, "alice") == "invalid_credentials"

    # A proxy call with a one-second window, at a moment its purge runs (every tenth window).
    rate_limits.check(session, "integration-1", "bob", {"rateLimit": {"perUser": 100,
                                                                       "windowSeconds": 1}},
                      now=T0 + 100.0)

    assert attempt(app, session, "alice", PASSWORD, now=T0 + 200.0) == "sign_in_throttled"
