"""The headers every HTML page the hub answers with gets: its own pages, the relation pages,
the OAuth result, the API docs, and an upstream's page passed on by the request proxy
(which also gets the proxy's sandbox). No page of the hub's has an inline script: the API
docs page starts Swagger UI from a file."""

from __future__ import annotations

from werkzeug.wrappers import Response

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def secure_pages(response: Response) -> Response:
    """Add the headers to an HTML answer, keeping those it already has."""
    if response.mimetype != "text/html":
        return response
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
