"""A hostile upstream's answer head (outbound/answer_heads.py, docs/security.md "Upstream
answers").

The proxy reads the head of an answer itself on the fast path and leaves anything unusual
to ``http.client``; tests/unit/test_answer_heads.py shows both read every head alike. Here
the heads come over a real socket through the whole proxy: folded lines, bare carriage
returns, lines without a name or colon, NUL and bytes beyond ASCII, more fields or longer
lines than ``http.client`` takes. Whatever the upstream sends, the caller gets a 200 whose
every field is one line and whose body is the upstream's, or the hub's 502
problem; never a 500 and never a field that could end the caller's head early.
"""

from __future__ import annotations

import pytest

from tests.support.listener import Answer

HOSTILE_FIELDS = {
    "plain": [("X-Plain", "value")],
    "folded": [("X-Folded", "first\r\n second\r\n\tthird")],
    "bare carriage return": [("X-A", "1\rX-Second: 2")],
    "line feed alone": [("X-A", "1\nX-Second: 2")],
    "no name": [("", "no name")],
    "no colon": [("No colon here\r\nX-After", "1")],
    "envelope line": [("From someone\r\nX-After", "1")],
    "nul": [("X-Nul", "a\x00b")],
    "beyond ascii": [("X-Latin", "caf\xe9 \xff")],
    "multipart type": [("Content-Type", "multipart/mixed; boundary=x")],
    "message type": [("Content-Type", "message/rfc822")],
    "continuation first": [(" X-Lead", "1")],
}


@pytest.fixture
def proxied(client, member, make_integration, listen):
    """Factory: the caller's answer, through the proxy, from an upstream answering
    ``headers`` and a two-byte body."""

    def call(headers: list[tuple[str, str]]):
        upstream = listen(Answer(headers=headers, body=b"{}"))
        integration = make_integration("Hostile heads", auth_type="none",
                                       api_base_uri=upstream.url, shares={"mia": 1})
        return client.get(f"/api/integrations/{integration}/request/x", headers=member.headers)

    return call


@pytest.mark.parametrize("kind", HOSTILE_FIELDS)
def test_every_field_the_caller_gets_is_one_line(proxied, kind):
    answer = proxied(HOSTILE_FIELDS[kind])

    assert answer.status_code in (200, 502), answer.data[:300]
    for name, value in answer.headers.items():
        assert not {"\r", "\n"} & set(name + value), (name, value)
    if answer.status_code == 200:
        assert answer.data == b"{}"
        # A line the reading gives up at takes the fields after it, Content-Length too:
        # the body then ends with the connection.
        assert answer.headers.get("Content-Length", "2") == "2"
    else:
        assert answer.json["code"] == "upstream_unreachable"


def test_a_plain_field_reaches_the_caller_as_sent(proxied):
    answer = proxied([("X-Plain", "  value with  spaces ")])

    assert answer.status_code == 200
    assert answer.headers["X-Plain"] == "value with  spaces "  # leading blanks go, as ever


@pytest.mark.parametrize("headers", [
    [(f"X-{number}", "v") for number in range(101)],
    [("X-Long", "v" * 70_000)],
], ids=["more than 100 fields", "a line over 64 KiB"])
def test_a_head_beyond_http_clients_limits_is_the_hubs_502(proxied, headers):
    answer = proxied(headers)

    assert answer.status_code == 502
    assert answer.mimetype == "application/problem+json"
    assert answer.json["code"] == "upstream_unreachable"
