"""Signing in: where the form sends the browser afterwards, and how many password guesses
the hub checks when they arrive all at once."""

from __future__ import annotations

import re

import pytest

from integration_hub.web.redirects import local_target
from tests import factories

PASSWORD = "a good long password"

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
def alice(session):
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
