"""Pure rules of the proxy's transport: headers in and out, retry waits, denied addresses."""

from datetime import UTC, datetime

import pytest

from integration_hub.outbound.upstream_http import (
    address_denied,
    body_framing,
    cleaned_caller_headers,
    forwardable_request_headers,
    latin1_safe,
    merge_headers,
    response_headers,
    retry_after_seconds,
    retry_wait,
    without_framing,
)


def test_forwardable_request_headers_allow_list():
    given = [("Accept", "a"), ("Accept-Language", "de"), ("Content-Type", "c"), ("If-None-Match", "e"),
             ("If-Modified-Since", "d"), ("Range", "bytes=0-1"), ("Cache-Control", "no-cache"),
             ("Authorization", "Bearer x"), ("Cookie", "c=1"), ("Host", "h"), ("X-Forwarded-For", "1"),
             ("Forwarded", "for=1"), ("Connection", "close"), ("Transfer-Encoding", "chunked"),
             ("X-Other", "o"), ("X-Extra", "e"), ("Content-Length", "3")]
    kept = forwardable_request_headers(given, ["x-extra", "Authorization"])
    assert set(kept) == {"Accept", "Accept-Language", "Content-Type", "If-None-Match",
                         "If-Modified-Since", "Range", "Cache-Control", "X-Extra"}


def test_envelope_headers_drop_what_only_the_hub_sets():
    assert cleaned_caller_headers({"X-A": "1", "authorization": "x", "Host": "h", "Cookie": "c",
                                   "X-Forwarded-Host": "f", "TE": "trailers"}) == {"X-A": "1"}


def test_merge_is_case_insensitive_and_later_wins():
    merged = merge_headers({"authorization": "caller", "X-A": "1"}, {"X-a": "2"},
                           {"Authorization": "Bearer hub"})
    assert merged == {"Authorization": "Bearer hub", "X-a": "2"}


def test_response_headers_filtering():
    pairs = [("Content-Type", "t"), ("Content-Encoding", "gzip"), ("Content-Length", "10"),
             ("Connection", "keep-alive, X-Hop"), ("X-Hop", "1"), ("Keep-Alive", "5"),
             ("Transfer-Encoding", "chunked"), ("Set-Cookie", "a=b"),
             ("Strict-Transport-Security", "max-age=1"), ("Access-Control-Allow-Origin", "*"),
             ("Access-Control-Expose-Headers", "x"), ("Upgrade", "h2"), ("ETag", '"e"')]
    assert response_headers(pairs) == [("Content-Type", "t"), ("Content-Encoding", "gzip"),
                                       ("Content-Length", "10"), ("ETag", '"e"')]


@pytest.mark.parametrize("address, denied", [
    ("127.0.0.1", True), ("10.1.2.3", True), ("172.16.0.1", True), ("192.168.1.1", True),
    ("169.254.169.254", True), ("0.0.0.0", True), ("::1", True), ("::", True),
    ("fe80::1%eth0", True), ("fc00::1", True), ("::ffff:127.0.0.1", True),
    ("::ffff:10.0.0.1", True), ("224.0.0.1", True), ("93.184.216.34", False),
    ("2606:4700:4700::1111", False), ("::ffff:93.184.216.34", False),
])
def test_address_denied(address, denied):
    assert address_denied(address) is denied


def test_retry_after_parsing():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Thu, 01 Jan 2026 12:01:00 GMT", now) == 60
    assert retry_after_seconds("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None


def test_retry_wait_grows_and_honours_retry_after():
    waits = [retry_wait(n, None, jitter=0.5) for n in range(1, 5)]
    assert waits == sorted(waits) and waits[0] == pytest.approx(0.4)
    assert retry_wait(1, 10.0, jitter=0.5) == 10.0
    assert 0.2 <= retry_wait(1, None) <= 0.6


def test_latin1_safe_carries_utf8_bytes():
    assert latin1_safe("plain") == "plain"
    assert latin1_safe("Zoë ✓").encode("latin-1") == "Zoë ✓".encode()


def _stream():
    yield b"payload"


@pytest.mark.parametrize(("method", "body", "length", "expected"), [
    ("PUT", _stream(), 7, ({"Content-Length": "7"}, False)),          # a stated length stays
    ("POST", _stream(), None, ({"Transfer-Encoding": "chunked"}, True)),  # chunked stays
    ("PATCH", b"abc", None, ({"Content-Length": "3"}, False)),
    ("PUT", None, 0, ({"Content-Length": "0"}, False)),
    ("post", None, None, ({"Content-Length": "0"}, False)),  # content methods state it
    ("DELETE", None, 0, ({"Content-Length": "0"}, False)),   # as the caller stated it
    ("DELETE", None, None, ({}, False)),
    ("GET", None, None, ({}, False)),
])
def test_a_body_is_framed_upstream_as_the_caller_framed_it(method, body, length, expected):
    assert body_framing(method, body, length) == expected


def test_no_header_but_the_framing_decides_how_a_body_is_framed():
    given = {"content-length": "5", "Transfer-Encoding": "chunked", "Accept": "a"}
    assert without_framing(given) == {"Accept": "a"}
