"""Reading the head of an upstream's answer: the same message ``http.client`` builds,
without running the e-mail parser over a head that holds only plain fields.

``http.client`` reads the header lines itself (``_read_headers``, with its limits on line
length and count) and then hands their text to ``email.parser``, which on a proxied call
cost more than everything else the hub does with the answer's head (about 20 us of a
call's CPU, docs/performance.md). Most heads are a few ``Name: value`` lines: for those,
``parsed_head`` appends the same (name, value) pairs the parser's compat32 policy would
(``header_source_parse``: the value without leading blanks and line end) to the same
``HTTPMessage``, with the same empty payload. Any line the parser treats specially (a
continuation, a line without a name, a bare CR, a ``From `` envelope line, no closing blank
line) and any ``multipart`` or ``message`` content type, whose empty body the parser goes
on to inspect, is left to ``http.client.parse_headers`` itself. So the message is the
parser's in every case; ``tests/unit/test_answer_heads.py`` compares the two on generated
heads, hostile ones included.
"""

from __future__ import annotations

import email.parser
import http.client
import re
import types

# One plain field line: a name of printable ASCII without ':' (what the parser's
# ``headerRE`` accepts, less the empty name), a colon, no CR or LF until the line end.
_PLAIN_FIELD = re.compile(rb"[\x21-\x39\x3b-\x7e]+:[^\r\n]*\r?\n")
_END_OF_HEAD = (b"\r\n", b"\n")
_PARSED_BODIES = ("multipart", "message")  # the parser reads on after the head for these


def parsed_head(fp, _class=http.client.HTTPMessage) -> http.client.HTTPMessage:
    """``http.client.parse_headers(fp)``: the answer's header fields, read from ``fp``."""
    lines = http.client._read_headers(fp)  # the limits: http.client's own
    if lines[-1] not in _END_OF_HEAD:
        return _parsed_by_email(lines, _class)
    message = _class()
    fields = message._headers
    for line in lines[:-1]:
        if not _PLAIN_FIELD.fullmatch(line):
            return _parsed_by_email(lines, _class)
        name, _, value = line.decode("iso-8859-1").partition(":")
        fields.append((name, value.lstrip(" \t").rstrip("\r\n")))
    if message.get_content_maintype() in _PARSED_BODIES:
        return _parsed_by_email(lines, _class)
    message.set_payload("")
    return message


def _parsed_by_email(lines: list[bytes], _class) -> http.client.HTTPMessage:
    # What http.client.parse_headers does once it has the lines.
    return email.parser.Parser(_class=_class).parsestr(
        b"".join(lines).decode("iso-8859-1"))


def _begin_reading_heads_with(parse) -> types.FunctionType:
    """``HTTPResponse.begin`` itself, its module's ``parse_headers`` name bound to
    ``parse``: the stdlib's status line, 100-continue, framing and keep-alive logic
    unchanged, whatever the Python version. Its other names are those of ``http.client``
    when the hub was imported."""
    begin = http.client.HTTPResponse.begin
    scope = {**vars(http.client), "parse_headers": parse}
    return types.FunctionType(begin.__code__, scope, begin.__name__, begin.__defaults__,
                              begin.__closure__)


class UpstreamAnswer(http.client.HTTPResponse):
    """The ``http.client`` answer the proxy's connections read: ``begin`` with
    ``parsed_head``."""

    begin = _begin_reading_heads_with(parsed_head)
