"""A request body read as framed, and what is drained of a body the hub did not read."""

from __future__ import annotations

import io

import pytest

from integration_hub.edge.request_framing import DRAIN_BYTES, RequestBody, drained

NEXT_REQUEST = b"GET /next HTTP/1.1\r\nHost: hub\r\n\r\n"


class Counted(io.BytesIO):
    """A stream that tells how much was taken from it."""

    def taken(self) -> int:
        return self.tell()


def test_reading_stops_at_the_declared_length_whatever_follows():
    stream = Counted(b"payload" + NEXT_REQUEST)
    body = RequestBody(stream, "7", "")
    assert body.read() == b"payload" and body.read(100) == b""
    assert stream.taken() == 7 and body.whole and body.reusable


def test_a_body_ending_before_its_length_is_not_whole():
    body = RequestBody(io.BytesIO(b"pay"), "7", "")
    assert body.read(100) == b"pay" and body.read(100) == b""
    assert not body.whole and not drained(body)


def test_a_chunked_body_is_whole_once_its_end_was_read():
    body = RequestBody(io.BytesIO(b"payload"), None, "chunked")
    assert body.declared is None and body.length is None and body.present
    assert body.read(7) == b"payload" and not body.whole
    assert drained(body) and body.whole


@pytest.mark.parametrize(("length", "expected"), [(None, 0), ("", 0), ("0", 0), ("12", 12)])
def test_without_a_length_there_is_no_body(length, expected):
    body = RequestBody(io.BytesIO(b""), length, "")
    assert body.declared == expected and body.present == bool(expected)
    assert body.length == (None if not length else expected)


@pytest.mark.parametrize("length", ["-1", "1e3", "٣", "7, 7"])
def test_a_length_that_is_no_number_spends_the_connection(length):
    body = RequestBody(io.BytesIO(b"payload"), length, "")
    assert body.declared == 0 and not body.reusable and not drained(body)


def test_a_rest_of_at_most_the_bound_is_drained():
    stream = Counted(b"x" * DRAIN_BYTES + NEXT_REQUEST)
    body = RequestBody(stream, str(DRAIN_BYTES), "")
    assert drained(body) and stream.taken() == DRAIN_BYTES


def test_a_declared_rest_over_the_bound_is_not_read_at_all():
    stream = Counted(b"x" * (DRAIN_BYTES + 2))
    body = RequestBody(stream, str(DRAIN_BYTES + 2), "")
    body.read(1)
    assert not drained(body) and stream.taken() == 1


def test_a_chunked_body_longer_than_the_bound_is_read_only_to_it():
    stream = Counted(b"x" * (3 * DRAIN_BYTES))
    body = RequestBody(stream, None, "chunked")
    assert not drained(body) and stream.taken() == DRAIN_BYTES + 1


def test_a_failing_read_spends_the_connection():
    class Broken(io.BytesIO):
        def read(self, size=-1):
            raise OSError("the client went away")

    body = RequestBody(Broken(), None, "chunked")
    with pytest.raises(OSError):
        body.read(10)
    assert not body.reusable and not drained(body)
