"""Cross-origin calls to the API, only from the origins in ``HUB_CORS_ORIGINS``.

Browsers on an allowed origin may call ``/api`` with a bearer token; cookies are not
allowed cross-origin (no ``Access-Control-Allow-Credentials``), so a session can only
be used by the hub's own pages. Other origins get no CORS headers, and browsers keep
their answers from the calling page.
"""

from __future__ import annotations

from flask import Flask, current_app, request

from integration_hub.config import current_settings

ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"
ALLOWED_HEADERS = frozenset({"authorization", "content-type", "accept", "accept-language",
                             "if-match", "if-none-match", "x-request-id"})
EXPOSED_HEADERS = ("ETag, Location, Retry-After, X-Request-ID, WWW-Authenticate, "
                   "X-Upstream-WWW-Authenticate")
MAX_AGE = "600"


def _allowed_origin() -> str | None:
    origin = request.headers.get("Origin")
    if origin and request.path.startswith("/api") and \
            origin.rstrip("/") in current_settings().cors_origins:
        return origin
    return None


def init_app(app: Flask) -> None:
    @app.before_request
    def _preflight():
        """Answer a preflight of an allowed origin before authentication (it carries none)."""
        if request.method != "OPTIONS" or not request.headers.get("Access-Control-Request-Method"):
            return None
        origin = _allowed_origin()
        if origin is None:
            return None
        asked = {h.strip().lower() for h in
                 request.headers.get("Access-Control-Request-Headers", "").split(",") if h.strip()}
        response = current_app.response_class(status=204)
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ", ".join(sorted(asked & ALLOWED_HEADERS))
        response.headers["Access-Control-Max-Age"] = MAX_AGE
        response.headers.add("Vary", "Origin")
        return response

    @app.after_request
    def _cors_headers(response):
        if request.path.startswith("/api"):
            response.vary.add("Origin")
        origin = _allowed_origin()
        if origin is not None and "Access-Control-Allow-Origin" not in response.headers:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        return response
