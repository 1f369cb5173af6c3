"""The upstream's answer as the proxy passes it on, whichever way the call came in (the
Flask views or the hot path, api/proxy/hot_path.py): the same headers, the same stream,
the same log record."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from flask import Response

from integration_hub.outbound.upstream_http import response_headers
from integration_hub.proxy.calls import elapsed_ms
from integration_hub.proxy.request_log import CallRecord, RequestLogBuffer

CHUNK = 256 * 1024  # per read and write: fewer, larger writes stream faster

# What the proxy serves is the upstream's, not the hub's: it never runs as the hub's page
# (docs/security.md, "The request proxy and the browser").
SANDBOX_HEADERS = {"Content-Security-Policy": "sandbox; default-src 'none'",
                   "X-Content-Type-Options": "nosniff"}


def sandboxed(response: Response) -> Response:
    """Replace whatever policy the upstream sent with the sandbox."""
    for name, value in SANDBOX_HEADERS.items():
        response.headers[name] = value
    return response


def streamed(answer, record: CallRecord, log: RequestLogBuffer) -> Iterator[bytes]:
    """The upstream's body, passed on as it arrives; the call is logged once it is read.

    An answer of declared length is logged before its last bytes go out: the caller may
    have all of them, and read the request log, before this generator is resumed (a
    chunked answer ends only after it, with the terminating chunk the server writes)."""
    logged = False
    try:
        for chunk in answer.stream(CHUNK, decode_content=False):
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
