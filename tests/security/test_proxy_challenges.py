"""An upstream's challenge never becomes the hub's (outbound/upstream_http.py,
``response_headers``; docs/security.md, "API tokens over HTTP Basic").

The request proxy answers at the hub's own origin. An upstream answering 401 with
``WWW-Authenticate: Basic`` (or Digest) passed on as it is would make the hub's origin ask a
browser for credentials: the browser prompts, then keeps what was typed and sends it again
by itself to every /api path. So such a challenge reaches the caller only as
``X-Upstream-WWW-Authenticate``, at every door (raw by the views and by the hot path, raw
HEAD, the envelope call with and without ``envelope``); other challenges pass as they are.
Judged by what a real local upstream (tests/support/upstream.py) answered.
"""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event

from integration_hub.outbound.upstream_http import challenges_browsers

BASIC = 'Basic realm="x"'
BEARER = 'Bearer realm="api", error="invalid_token"'
# (the upstream's WWW-Authenticate fields, those the hub's answer keeps, those it renames)
CHALLENGES = {
    "basic": ([BASIC], [], [BASIC]),
    "digest in lower case": (['digest realm="x", nonce="n1"'], [],
                             ['digest realm="x", nonce="n1"']),
    "basic after bearer in one field": ([f"{BEARER}, {BASIC}"], [], [f"{BEARER}, {BASIC}"]),
    "basic in a second field": ([BEARER, "BASIC"], [BEARER], ["BASIC"]),
    "bearer only": ([BEARER], [BEARER], []),
    "bearer naming basic in a quoted string": (['Bearer realm="Basic, Basic x"'],
                                               ['Bearer realm="Basic, Basic x"'], []),
}


@pytest.fixture
def keyed(make_integration, upstream):
    """Factory: an API-key integration on the recording upstream, shared with mia."""
    return lambda: make_integration("Upstream", type="custom", auth_type="apikey",
                                    mode="shared", api_base_uri=f"{upstream.url}/v1",
                                    api_key="challenge-upstream-key-7310",
                                    api_key_name="X-Api-Key", shares={"mia": 1})


@contextlib.contextmanager
def statements(app):
    """The SQL statements the hub runs on its database meanwhile (none: the hot path)."""
    engine = app.extensions["integration_hub.db"].kw["bind"]
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def challenge_with(upstream, fields: list[str]) -> None:
    upstream.respond("/v1/private", {"status": 401, "json": {"error": "who are you"},
                                     "headers": [("WWW-Authenticate", f) for f in fields]},
                     sticky=True)


def assert_no_browser_challenge(answer, kept: list[str], renamed: list[str]) -> None:
    assert answer.status_code == 401, answer.get_data(as_text=True)
    challenges = answer.headers.getlist("WWW-Authenticate")
    assert sorted(challenges) == sorted(kept)
    assert sorted(answer.headers.getlist("X-Upstream-WWW-Authenticate")) == sorted(renamed)


@pytest.mark.parametrize("case", CHALLENGES)
def test_raw_door_by_the_views(client, member, upstream, keyed, case):
    fields, kept, renamed = CHALLENGES[case]
    challenge_with(upstream, fields)
    url = f"/api/integrations/{keyed()}/request/private"
    # An Origin the hub does not allow: always the views' call, never the hot path's.
    views = {**member.headers, "Origin": "https://elsewhere.example"}

    for method in ("GET", "POST", "HEAD"):
        answer = client.open(url, method=method, headers=views)
        assert_no_browser_challenge(answer, kept, renamed)
    assert len(upstream.requests("/v1/private")) == 3


@pytest.mark.parametrize("case", CHALLENGES)
def test_raw_door_by_the_hot_path(app, client, member, upstream, keyed, case):
    fields, kept, renamed = CHALLENGES[case]
    challenge_with(upstream, fields)
    integration = keyed()
    for _ in range(2):  # the views' calls, which leave the plan to the hot path
        ok = client.get(f"/api/integrations/{integration}/request/ok", headers=member.headers)
        assert ok.status_code == 200

    with statements(app) as seen:
        answer = client.get(f"/api/integrations/{integration}/request/private",
                            headers=member.headers)

    assert seen == [], "answered by the hot path, without the database"
    assert_no_browser_challenge(answer, kept, renamed)


@pytest.mark.parametrize("case", CHALLENGES)
def test_envelope_door(client, member, upstream, keyed, case):
    fields, kept, renamed = CHALLENGES[case]
    challenge_with(upstream, fields)
    url = f"/api/integrations/{keyed()}/request"

    answer = client.post(url, headers=member.headers, json={"url": "private"})
    assert_no_browser_challenge(answer, kept, renamed)

    # envelope: true answers 200, the upstream's headers in the body (one value a name)
    wrapped = client.post(url, headers=member.headers, json={"url": "private",
                                                             "envelope": True})
    assert wrapped.status_code == 200 and not wrapped.headers.getlist("WWW-Authenticate")
    headers = wrapped.get_json()["headers"]
    assert headers.get("WWW-Authenticate") in (kept[-1:] or [None])
    assert headers.get("X-Upstream-WWW-Authenticate") in (renamed[-1:] or [None])


@pytest.mark.parametrize(("value", "browsers_answer"), [
    ('Basic realm="x"', True), ("basic", True), ("bAsIc realm=x", True),
    ("Digest realm=x, nonce=1", True), ('\tDigest\trealm="x"', True),
    ('Bearer realm="a", Basic realm="b"', True), ('Bearer realm="a",, basic', True),
    ('Bearer realm="a",\r\n Basic realm="b"', True),  # a folded field
    ('Bearer realm="a\r\nBasic x"', True),  # a quoted string ends with its line
    ("Bearer", False), ('Bearer error="invalid_token"', False), ("Negotiate abc==", False),
    ('Bearer realm="a, Basic x"', False), ('Bearer realm="x\\", Basic y"', False),
    ('Bearer realm="never closed, Basic x', False), ("Bearer scope=basic", False),
    ("Bearer, basic=1", False), ("Basically realm=x", False), ("", False),
])
def test_which_challenges_a_browser_would_answer(value, browsers_answer):
    assert challenges_browsers(value) is browsers_answer
