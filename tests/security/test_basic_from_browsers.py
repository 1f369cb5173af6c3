"""HTTP Basic credentials are taken from programs only (edge/authorization_header.py,
docs/security.md "API tokens over HTTP Basic").

A browser keeps Basic credentials once it has them (typed into its prompt, or in a link's
``user:password@``) and sends them again by itself, to any request for the hub's origin,
cross-site forms and images included: accepted from a browser, they would be the ambient
credential a bearer token is not, and a page anywhere could spend them, through the proxy
too. So a request showing a browser made it (``Sec-Fetch-*``, ``Origin``) is refused with
Basic credentials before any work, and no answer of the hub ever asks a browser for them.
"""

from __future__ import annotations

import base64
import contextlib

import pytest
from sqlalchemy import event

BROWSER = {
    "navigation": {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate",
                   "Sec-Fetch-Dest": "document"},
    "cross-site form": {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
                        "Origin": "https://elsewhere.example"},
    "cross-site image": {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors",
                         "Sec-Fetch-Dest": "image"},
    "sandboxed page's fetch": {"Origin": "null", "Sec-Fetch-Site": "cross-site",
                               "Sec-Fetch-Mode": "cors"},
    "older browser's post": {"Origin": "https://elsewhere.example"},
}


@pytest.fixture
def keyed(make_integration, upstream):
    """Factory: an API-key integration on the recording upstream, shared with mia."""
    return lambda: make_integration("Upstream", type="custom", auth_type="apikey",
                                    mode="shared", api_base_uri=f"{upstream.url}/v1",
                                    api_key="basic-upstream-key-5521", api_key_name="X-Api-Key",
                                    shares={"mia": 1})


@contextlib.contextmanager
def statements(app):
    """The SQL statements the hub runs on its database meanwhile."""
    engine = app.extensions["integration_hub.db"].kw["bind"]
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()}


@pytest.mark.parametrize("kind", BROWSER)
def test_basic_from_a_browser_is_refused_and_nothing_is_sent_upstream(client, member, keyed,
                                                                     upstream, kind):
    integration = keyed()
    upstream.respond("/v1/accounts", {"json": {"ok": True}}, sticky=True)
    headers = {**basic(member.token), **BROWSER[kind]}

    answers = [client.get("/api/integrations", headers=headers),
               client.get(f"/api/integrations/{integration}/request/accounts", headers=headers),
               client.post(f"/api/integrations/{integration}/request/accounts", headers=headers),
               client.post("/api/tokens", headers=headers, json={"name": "stolen"})]

    for answer in answers:
        assert answer.status_code == 401, answer.get_data(as_text=True)
        assert answer.get_json()["code"] == "basic_auth_from_browser"
        assert "Basic" not in answer.headers.get("WWW-Authenticate", "")
    assert upstream.requests("/v1/accounts") == []
    tokens = client.get("/api/tokens?limit=500", headers=member.headers).get_json()
    assert all(token["name"] != "stolen" for token in tokens["_embedded"]["inf:token"])


@pytest.mark.parametrize("kind", BROWSER)
def test_an_unknown_token_from_a_browser_is_refused_before_any_lookup(app, client, keyed,
                                                                      upstream, kind):
    """Not ``invalid_token``: the browser check comes first, so no token is looked up and
    whether a token exists is never told to a page."""
    integration = keyed()
    headers = {**basic("ihub_unknown0a1b2c3d4e5f6a7b8c9d"), **BROWSER[kind]}

    with statements(app) as seen:
        answers = [client.get("/api/integrations", headers=headers),
                   client.get(f"/api/integrations/{integration}/request/accounts",
                              headers=headers)]

    for answer in answers:
        assert answer.status_code == 401, answer.get_data(as_text=True)
        assert answer.mimetype == "application/problem+json"
        assert answer.get_json()["code"] == "basic_auth_from_browser"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
    assert not [statement for statement in seen if "api_tokens" in statement]
    assert upstream.requests() == []
    # Without the browser's headers the same credentials are looked up, and unknown.
    program = client.get("/api/integrations", headers=basic("ihub_unknown0a1b2c3d4e5f6a7b8c9d"))
    assert program.status_code == 401 and program.get_json()["code"] == "invalid_token"


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer ihub_unknown"}, {"Authorization": "Basic !!"},
    {"Authorization": "Basic " + base64.b64encode(b"ihub_unknown:").decode()},
    {"Authorization": "Digest username=x"},
], ids=["none", "unknown-bearer", "broken-basic", "unknown-basic", "digest"])
def test_no_answer_asks_a_browser_for_basic_credentials(client, keyed, headers):
    integration = keyed()
    for path in ("/api/integrations", f"/api/integrations/{integration}/request/accounts",
                 "/api"):
        answer = client.get(path, headers=headers)
        challenge = answer.headers.get("WWW-Authenticate", "")
        assert "basic" not in challenge.lower(), (path, challenge)
        if answer.status_code == 401:
            assert challenge.startswith("Bearer ")
