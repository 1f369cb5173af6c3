"""The proxy reads an upstream answer's head as ``http.client`` does (outbound/answer_heads.py):
the same message, field by field, for plain heads and for every kind of line the e-mail
parser treats its own way."""

from __future__ import annotations

import http.client
import io

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from integration_hub.outbound.answer_heads import UpstreamAnswer, parsed_head


def _read(parse, head: bytes):
    """What ``parse`` makes of ``head``: the message's whole state, the bytes left after
    it, or the error it raised."""
    stream = io.BytesIO(head + b"BODY")
    try:
        message = parse(stream)
    except http.client.HTTPException as error:
        return type(error), str(error)
    return _state(message), stream.read()


def _state(message) -> tuple:
    """Everything a message holds, parts read by the parser (``message/*``) included."""
    state = vars(message).copy()
    state["defects"] = [(type(defect), str(defect)) for defect in message.defects]
    if isinstance(message._payload, list):
        state["_payload"] = [_state(part) for part in message._payload]
    return type(message), state


def _same_as_http_client(head: bytes) -> None:
    assert _read(parsed_head, head) == _read(http.client.parse_headers, head)


PLAIN = (b"Server: nginx\r\nDate: Sat, 05 Dec 2026 01:00:00 GMT\r\n"
         b"Content-Type: application/json\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n")


@pytest.mark.parametrize("head", [
    PLAIN,
    b"\r\n",                                              # no fields at all
    b"X-A: 1\nX-B:2\n\n",                                 # bare LF line ends
    b"X-Empty:\r\nX-Blank:   \r\nX-Tab:\t v \t\r\n\r\n",  # empty, blank, tabbed values
    b"X-Twice: 1\r\nx-twice: 2\r\nX-TWICE: 3\r\n\r\n",    # one name, three fields
    b"X-Latin: caf\xe9 \xff\r\n\r\n",                     # bytes beyond ASCII
    b"X-Nul: a\x00b\r\n\r\n",                             # control characters in a value
    b"X-Colons: a:b::c\r\n\r\n",
    b"X-Folded: first\r\n second\r\n\tthird\r\nX-After: 1\r\n\r\n",  # obsolete line folding
    b" X-Leading: continuation first\r\nX-A: 1\r\n\r\n",  # a first line that continues nothing
    b"X-A: 1\rX-Smuggled: 2\r\n\r\n",                     # a bare CR splits the line
    b"X-A: 1\r\r\n\r\n",
    b"No colon here\r\nX-A: 1\r\n\r\n",                   # the rest becomes the body
    b": no name\r\nX-A: 1\r\n\r\n",
    b"X Space: 1\r\n\r\n",
    b"From someone: 1\r\nX-A: 1\r\n\r\n",                 # an mbox envelope line
    b"From: someone\r\n\r\n",
    b"X-A: 1\r\n",                                        # the connection ends in the head
    b"X-A: 1",
    b"",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n",  # the parser reads on for these
    b"Content-Type: multipart/mixed\r\n\r\n",
    b"Content-Type: Message/RFC822\r\n\r\n",
    b"Content-Type: message/delivery-status\r\n\r\n",
    b"Content-Type: text/html; charset=utf-8\r\n\r\n",
    b"Content-Type: nonsense\r\n\r\n",
    b"X-A: " + b"v" * 70_000 + b"\r\n\r\n",               # http.client's line limit
    b"".join(b"X-%d: v\r\n" % number for number in range(101)) + b"\r\n",  # and count limit
], ids=repr)
def test_a_head_reads_as_http_client_reads_it(head):
    _same_as_http_client(head)


_NAME = st.one_of(st.sampled_from(["Content-Type", "Content-Length", "X-A", "From", "set-cookie",
                                   "X Space", "", " X-Lead", "\tX"]),
                  st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=8))
_VALUE = st.one_of(st.sampled_from(["application/json", "multipart/form-data; boundary=b",
                                    "message/rfc822", " padded ", "a\rb", "x: y", ""]),
                   st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=12))


@given(fields=st.lists(st.tuples(_NAME, _VALUE, st.sampled_from([b"\r\n", b"\n", b"\r"])),
                       max_size=8),
       end=st.sampled_from([b"\r\n", b"\n", b""]))
@example(fields=[("X-A", "1", b"\r\n")], end=b"\r\n")
def test_any_head_reads_as_http_client_reads_it(fields, end):
    head = b"".join(f"{name}:{value}".encode("latin-1") + line_end
                    for name, value, line_end in fields) + end
    _same_as_http_client(head)


def test_answers_read_their_heads_with_parsed_head_and_nothing_else_changes():
    """The stdlib's ``begin`` (status line, framing, keep-alive) with the head read by
    ``parsed_head``; the answer is the one http.client makes of the same bytes."""
    raw = (b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
           b"HTTP/1.1 201 Created\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    answers = []
    for kind in (UpstreamAnswer, http.client.HTTPResponse):
        answer = kind(_Socket(raw), method="POST")
        answer.begin()
        answers.append((answer.status, answer.reason, answer.version, answer.chunked,
                        answer.will_close, answer.length, answer.msg.items(), answer.read()))
    assert answers[0] == answers[1]
    assert answers[0][:2] == (201, "Created")
    assert answers[0][-1] == b"abc"


class _Socket:
    """What HTTPResponse asks of its socket: ``makefile``."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode: str):
        return io.BytesIO(self.data)
