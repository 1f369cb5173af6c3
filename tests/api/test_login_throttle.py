"""Sign-in throttling: repeated failures per user and per client address answer 429,
counted in the database, for the API and the HTML form alike."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from integration_hub.db.models import RateLimitCounter
from integration_hub.identity import login_throttle
from tests import factories
from tests.support.problems import assert_problem

PASSWORD = "the right password 42"
LIMIT = 5  # HUB_LOGIN_MAX_FAILURES default


@pytest.fixture
def ada(session, one_sign_in_window):
    factories.user(session, "ada", password=PASSWORD)
    factories.user(session, "bea", password=PASSWORD)
    session.commit()


def login(client, username="ada", password=PASSWORD, address="10.0.0.1"):
    return client.post("/api/login", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_a_user_is_throttled_after_repeated_failures_even_with_the_right_password(client, ada):
    for _ in range(LIMIT):
        assert_problem(login(client, password="wrong"), 401, "invalid_credentials")

    throttled = login(client)  # the right password, too late
    problem = assert_problem(throttled, 429, "sign_in_throttled")
    assert 1 <= int(throttled.headers["Retry-After"]) <= 900
    assert "wrong" not in problem["detail"] and PASSWORD not in throttled.get_data(as_text=True)
    # from another address the user is still throttled; another user is not
    assert_problem(login(client, address="10.0.0.2"), 429, "sign_in_throttled")
    assert login(client, username="bea", address="10.0.0.3").status_code == 200


def test_one_address_trying_many_users_is_throttled(client, ada):
    for n in range(LIMIT):
        assert_problem(login(client, username=f"guess{n}", password="x"), 401,
                       "invalid_credentials")

    assert_problem(login(client), 429, "sign_in_throttled")
    assert login(client, address="10.0.0.9").status_code == 200  # ada elsewhere is fine


def test_a_success_clears_the_users_count(client, session, ada):
    for _ in range(LIMIT - 1):
        login(client, password="wrong", address="10.0.1.1")
    assert login(client, address="10.0.1.2").status_code == 200

    session.rollback()
    keys = set(session.scalars(select(RateLimitCounter.key)))
    assert login_throttle.user_key("default", "ada") not in keys
    assert login_throttle.address_key("10.0.1.1") in keys
    for _ in range(LIMIT - 1):  # counting starts afresh for the user
        assert_problem(login(client, password="wrong", address="10.0.1.3"), 401,
                       "invalid_credentials")


def test_the_window_ends_the_throttle(app, session, ada):
    settings = app.config["HUB_SETTINGS"]
    now = 1_800_000_000.0
    with app.app_context():
        for _ in range(LIMIT):
            with pytest.raises(login_throttle.errors.InvalidCredentials):
                login_throttle.check_password(session, settings, "default", "ada", "wrong",
                                              "10.0.2.1", now=now)
        with pytest.raises(login_throttle.SignInThrottled):
            login_throttle.check_password(session, settings, "default", "ada", PASSWORD,
                                          "10.0.2.1", now=now + 1)
        user = login_throttle.check_password(session, settings, "default", "ada", PASSWORD,
                                             "10.0.2.1", now=now + settings.login_window_seconds)
    assert user.username == "ada"


def test_the_html_form_is_throttled_too(client, ada):
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]

    def post(password):
        return client.post("/login", data={"username": "ada", "password": password,
                                           "csrf_token": token},
                           environ_base={"REMOTE_ADDR": "10.0.3.1"})

    for _ in range(LIMIT):
        assert post("wrong").status_code == 401
    answer = post(PASSWORD)
    assert answer.status_code == 429
    assert "Too many failed sign-ins" in answer.get_data(as_text=True)
