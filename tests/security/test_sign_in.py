"""Signing in: where the form sends the browser afterwards, and how many password guesses
the hub checks when they arrive all at once."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from integration_hub.web.redirects import local_target
from tests import factories
from tests.support.served_hub import production_hub

PASSWORD = "a good long password"
LIMIT = 5  # HUB_LOGIN_MAX_FAILURES default
PARALLEL = 40

# (what ``next`` holds after URL decoding, where the browser goes: a path of the hub or None)
NEXT_VALUES = [
    ("/", "/"),
    ("/integrations?tag=crm#top", "/integrations?tag=crm#top"),
    ("/a/b/../c", "/a/b/../c"),
    ("/caf\u00e9", "/caf%C3%A9"),
    ("/x y", "/x%20y"),
    ("/already%20encoded", "/already%20encoded"),
    ("/a\tb", "/ab"),                         # a browser drops tabs and line breaks
    ("/api/me?next=//evil.example", "/api/me?next=//evil.example"),
    (None, None),
    ("", None),
    ("evil.example", None),
    ("relative/path", None),
    ("https://evil.example/", None),
    ("HTTPS://evil.example/", None),
    ("javascript:alert(1)", None),
    ("data:text/html,<script>alert(1)</script>", None),
    ("//evil.example", None),
    ("///evil.example", None),
    ("/\t/evil.example", None),               # the issue's /%09/evil.example
    ("/\n/evil.example", None),
    ("/\r\n/evil.example", None),
    ("\t//evil.example", None),
    ("/\\evil.example", None),
    ("\\\\evil.example", None),
    ("\\/evil.example", None),
    ("/\\\t\\evil.example", None),
    (" //evil.example", None),                # leading C0 and spaces are stripped
    ("\x01//evil.example", None),
    ("/\n", "/"),                             # the issue's /%0A: a 500 before
    ("/\x00/x", None),
    ("/a\x7fb", None),
    ("/a\x0bb", None),
    ("/\ud800", None),
    ("/search?q=a\\b", "/search?q=a%5Cb"),  # in the query a backslash is just text
    ("/" + "a" * 3000, None),                 # longer than any page of the hub
]


@pytest.mark.parametrize("target, expected", NEXT_VALUES)
def test_only_same_origin_paths_are_followed_after_sign_in(target, expected):
    assert local_target(target) == expected


@pytest.fixture
def alice(session, one_sign_in_window):
    factories.user(session, "alice", password=PASSWORD)
    session.commit()


def _sign_in_by_form(client, target):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", query_string={"next": target},
                       data={"username": "alice", "password": PASSWORD, "csrf_token": csrf})


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n", "/\\\\evil.example",
                                    "/\r\n//evil.example", "\t//evil.example"])
def test_the_sign_in_form_never_sends_the_browser_off_site(client, alice, target):
    answer = _sign_in_by_form(client, target)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert answer.headers["Location"] == "/"
    assert client.get("/api/me").get_json()["username"] == "alice"


def test_the_sign_in_form_follows_a_path_of_the_hub(client, alice):
    answer = _sign_in_by_form(client, "/api/me?x=1")
    assert answer.status_code == 303 and answer.headers["Location"] == "/api/me?x=1"


# -- parallel guesses ----------------------------------------------------------------------------
# A password is checked exactly when the answer is 401 (wrong) or 200 (right); a 429 means
# the hub refused to check it. So counting answers counts checks, without touching the code.

def _all_at_once(attempts, send):
    """Runs ``send(attempt)`` for every attempt in threads of their own, released together."""
    start = threading.Barrier(len(attempts))

    def one(attempt):
        start.wait(timeout=60)
        return send(attempt)

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(one, attempts))


GUESSES = {
    "one user from many addresses": [("alice", f"wrong guess {n}", f"10.7.0.{n}")
                                     for n in range(PARALLEL)],
    "many users from one address": [(f"guess{n}", "wrong guess", "10.7.1.1")
                                    for n in range(PARALLEL)],
}


@pytest.mark.parametrize("guesses", GUESSES.values(), ids=GUESSES.keys())
def test_parallel_guesses_are_checked_at_most_the_limit(app, alice, guesses):
    def send(guess):
        username, password, address = guess
        return app.test_client().post("/api/login", environ_base={"REMOTE_ADDR": address},
                                      json={"username": username, "password": password}
                                      ).status_code

    answers = _all_at_once(guesses, send)

    assert set(answers) <= {401, 429}, answers
    assert answers.count(401) == LIMIT, answers
    # and the right password is not checked either while the window lasts
    username, _, address = guesses[0]
    assert send(("alice", PASSWORD, address)) == 429


@pytest.fixture(params=["sqlite", "postgresql"])
def served_hub(request, tmp_path, postgres_database):
    env = {"DATABASE_URL": postgres_database()} if request.param == "postgresql" else {}
    with production_hub(tmp_path, **env) as hub:
        yield hub


def test_parallel_guesses_at_a_served_hub_are_checked_at_most_the_limit(served_hub,
                                                                        one_sign_in_window):
    with requests.Session() as http:
        http.trust_env = False
        assert http.put(f"{served_hub.base}/api/users/ops", json={"password": PASSWORD},
                        headers={"Authorization": f"Bearer {served_hub.token}"}
                        ).status_code == 200

    def send(password):  # a connection of its own: the worker processes share the work
        return requests.post(f"{served_hub.base}/api/login", timeout=60,
                             headers={"Connection": "close"},
                             json={"username": "ops", "password": password}).status_code

    answers = _all_at_once([f"wrong guess {n}" for n in range(PARALLEL)], send)

    assert set(answers) <= {401, 429}, answers
    assert answers.count(401) == LIMIT, answers
    assert send(PASSWORD) == 429
