"""The upstream's answer as the proxy passes it on, whichever way the call came in (the
Flask views or the hot path, api/proxy/hot_path.py): the same headers, the same stream,
the same log record."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from flask import Response
from werkzeug.http import HTTP_STATUS_CODES, parse_set_header

from integration_hub.edge.page_headers import SECURITY_HEADERS
from integration_hub.outbound.upstream_http import response_headers
from integration_hub.proxy.calls import elapsed_ms
from integration_hub.proxy.request_log import CallRecord, RequestLogBuffer

# How much of an upstream's answer is read and written at once. A large body streams at the
# pace of its system calls: docs/performance.md measured 256 KiB, 1 MiB and 4 MiB reads
# (about 1.1, 1.6 and 2.0 GiB/s over loopback). A read waits until it is full, so reads
# start at FIRST_CHUNK and double, up to CHUNK, only while they fill quickly: a slow
# upstream's bytes are passed on as they were with small reads. A caller's body is passed
# on in pieces of FIRST_CHUNK.
FIRST_CHUNK = 256 * 1024
CHUNK = 4 * 1024 * 1024
QUICK_READ = 0.05  # seconds

# What the proxy serves is the upstream's, not the hub's: it never runs as the hub's page
# (docs/security.md, "The request proxy and the browser").
SANDBOX_HEADERS = {"Content-Security-Policy": "sandbox; default-src 'none'",
                   "X-Content-Type-Options": "nosniff"}


def sandboxed(response: Response) -> Response:
    """Replace whatever policy the upstream sent with the sandbox."""
    for name, value in SANDBOX_HEADERS.items():
        response.headers[name] = value
    return response


def arriving(answer) -> Iterator[bytes]:
    """The upstream's body, undecoded: each HTTP chunk of a chunked answer as it comes (up to
    ``FIRST_CHUNK``), otherwise reads that grow while they fill quickly (``CHUNK``)."""
    if answer.chunked and answer.supports_chunked_reads():
        yield from answer.stream(FIRST_CHUNK, decode_content=False)
        return
    size = FIRST_CHUNK
    while not answer.closed:  # closed once a declared length is read: no read for nothing
        started = time.monotonic()
        data = answer.read(size, decode_content=False)
        if not data:
            return
        quick = time.monotonic() - started < QUICK_READ
        yield data
        size = min(size * 2, CHUNK) if quick else FIRST_CHUNK


def streamed(answer, record: CallRecord, log: RequestLogBuffer) -> Iterator[bytes]:
    """The upstream's body, passed on as it arrives; the call is logged once it is read.

    An answer of declared length is logged before its last bytes go out: the caller may
    have all of them, and read the request log, before this generator is resumed (a
    chunked answer ends only after it, with the terminating chunk the server writes)."""
    logged = False
    try:
        for chunk in arriving(answer):
            record.bytes_received += len(chunk)
            if not logged and getattr(answer, "length_remaining", None) == 0:
                log.add(record, elapsed_ms(record))
                logged = True
            yield chunk
    finally:
        answer.release_conn()
        if not logged:
            log.add(record, elapsed_ms(record))


def transparent(answer, record: CallRecord, log: RequestLogBuffer, method: str) -> Response:
    """The upstream's status, headers (less hop-by-hop, cookies, HSTS, CORS) and body."""
    headers = response_headers(answer.headers.items())
    if method == "HEAD":
        answer.release_conn()
        log.add(record, elapsed_ms(record))
        return Response(b"", status=answer.status, headers=headers)
    response = Response(streamed(answer, record, log), status=answer.status,
                        headers=headers, direct_passthrough=True)
    if not any(name.lower() == "content-type" for name, _ in headers):
        del response.headers["Content-Type"]
    return response


# What a response object would change in these (werkzeug's get_wsgi_headers): such an answer
# takes the response object's way.
_REWRITTEN = frozenset({"location", "content-location"})
_REPLACED = frozenset({name.lower() for name in SANDBOX_HEADERS} | {"x-request-id"})


def as_sent(status: int, headers: list[tuple[str, str]],
            request_id: str) -> tuple[str, list[tuple[str, str]]] | None:
    """The status line and headers the views' answer would have for an upstream answer of
    ``status`` with ``headers`` (already ``response_headers``): the sandbox, the request
    id (``X-Request-ID``), ``Origin`` added to ``Vary`` as ``edge/cors.py`` adds it, and an
    HTML page's headers (``edge/page_headers.py``). None when a response object would
    rewrite something (a ``Location``, an answer without content): build one then."""
    if status < 200 or status in (204, 304):
        return None
    sent, varies, content_type = [], [], None
    for name, value in headers:
        lowered = name.lower()
        if lowered in _REWRITTEN:
            return None
        if lowered in _REPLACED:
            continue
        if lowered == "vary":
            varies.append(value)
        elif lowered == "content-type" and content_type is None:
            content_type = value
        sent.append((name, value))
    sent += [*SANDBOX_HEADERS.items(), ("X-Request-ID", request_id)]
    vary = parse_set_header(varies[0]) if varies else None
    if vary is None:
        sent.append(("Vary", "Origin"))
    elif "Origin" not in vary:  # as response.vary.add: the first Vary, merged, replaces all
        vary.add("Origin")
        sent = [(name, value) for name, value in sent if name.lower() != "vary"]
        sent.append(("Vary", vary.to_header()))
    if content_type is not None and content_type.split(";")[0].strip().lower() == "text/html":
        present = {name.lower() for name, _ in sent}
        sent += [(name, value) for name, value in SECURITY_HEADERS.items()
                 if name.lower() not in present]
    return f"{status} {HTTP_STATUS_CODES.get(status, 'unknown').upper()}", sent


def raw_target(environ: dict[str, Any], decoded: str) -> str:
    """The path after ``/request/`` exactly as the caller encoded it (``decoded``, the
    router's, re-encoded when the server does not say what was sent)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        path = raw.split("?", 1)[0]
        marker = path.find("/request/", path.find("/integrations/"))
        if marker >= 0:
            return path[marker + len("/request/"):]
    return quote(decoded, safe="/@:!$&'()*+,;=~-._")
