"""Every failure the hub reports, rendered in one place as problem+json (RFC 9457).

Each error is a class with a stable machine ``code``; raise it anywhere, and
``problem_response`` turns it into the answer. Details never carry secrets,
SQL or stack traces.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, current_app, json

from integration_hub.field_errors import field_kinds

PROBLEM_JSON = "application/problem+json"
# A URN rather than a URL: the hub is self-hosted and owns no public domain.
PROBLEM_TYPE_BASE = "urn:integration-hub:problem:"


class HubError(Exception):
    status = 500
    code = "internal_error"
    title = "Internal server error"

    def __init__(self, detail: str | None = None, *, errors: dict | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


class BadRequest(HubError):
    status, code, title = 400, "bad_request", "Bad request"


class MalformedBody(HubError):
    status, code, title = 400, "malformed_body", "The request body could not be parsed"


class AuthenticationRequired(HubError):
    status, code, title = 401, "authentication_required", "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="integration-hub"'})
        super().__init__(detail, **kwargs)


class InvalidToken(AuthenticationRequired):
    code, title = "invalid_token", "The API token is unknown, expired or revoked"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {
            "WWW-Authenticate": 'Bearer realm="integration-hub", error="invalid_token"'})
        super().__init__(detail, **kwargs)


class ApiTokenRequired(AuthenticationRequired):
    """A browser session reached an endpoint that serves content the hub did not write."""
    code, title = "api_token_required", "This endpoint takes an API token, not a browser session"


class InvalidCredentials(HubError):
    status, code, title = 401, "invalid_credentials", "Unknown username or wrong password"


class Forbidden(HubError):
    status, code, title = 403, "forbidden", "You may not do this"


def require_superuser(user: Any) -> None:
    """``user`` is a tenant administrator, or the call is refused (403 ``forbidden``). Here,
    not in identity, so that every package (audit and webhooks too) asks the same rule."""
    if not user.superuser:
        raise Forbidden("this needs a tenant administrator (superuser)")


class CsrfFailed(Forbidden):
    code, title = "csrf_failed", "Missing or wrong CSRF token"


class TokenScopeInsufficient(Forbidden):
    """The API token lacks the scope the request needs (``requiredScope`` names it)."""
    code, title = "token_scope_insufficient", "The API token's scopes do not cover this request"


class TokenScopeExceedsParent(Forbidden):
    """A token asked for a token with a scope it does not hold itself."""
    code, title = "token_scope_exceeds_parent", "A token cannot make a token broader than itself"


class NotFound(HubError):
    status, code, title = 404, "not_found", "Not found"


class MethodNotAllowed(HubError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class NotAcceptable(HubError):
    status, code, title = 406, "not_acceptable", "Not acceptable"


class Conflict(HubError):
    status, code, title = 409, "conflict", "Conflict"


class AlreadyExists(Conflict):
    code, title = "already_exists", "A resource with this identifier already exists"


class PreconditionFailed(HubError):
    status, code, title = 412, "precondition_failed", "The resource has changed (If-Match)"


class PayloadTooLarge(HubError):
    status, code, title = 413, "payload_too_large", "The request body is too large"


class UnsupportedMediaType(HubError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class ValidationFailed(HubError):
    """``errors`` maps fields to messages; ``fields`` then says which of them are missing,
    unknown or invalid (field_errors.py)."""
    status, code, title = 422, "validation_failed", "The request is not valid"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        if isinstance(self.errors, Mapping):
            self.extra.setdefault("fields", field_kinds(self.errors))


class TokenLineageTooDeep(ValidationFailed):
    code, title = "token_lineage_too_deep", "Too many tokens made one from another"


class TooManyRequests(HubError):
    status, code, title = 429, "too_many_requests", "Too many requests"


class DatabaseUnavailable(HubError):
    """The hub's own database cannot serve this request now: it is gone or restarting,
    unreachable, SQLite's write lock stayed taken past the busy timeout, or no pooled
    connection came free in time. Nothing of the request was kept; it may be sent again."""
    status, code, title = 503, "database_unavailable", "The hub's database is unavailable"
    retry_after = 5  # seconds: a restart, a failover or a long write is usually over by then

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": str(self.retry_after)})
        super().__init__(detail, **kwargs)


def http_error_class(status: int) -> type[HubError]:
    """The error class for a bare HTTP status raised by Flask or Werkzeug."""
    for cls in (BadRequest, AuthenticationRequired, Forbidden, NotFound, MethodNotAllowed,
                NotAcceptable, Conflict, PreconditionFailed, PayloadTooLarge,
                UnsupportedMediaType, ValidationFailed, TooManyRequests):
        if cls.status == status:
            return cls
    return HubError


def problem_body(error: HubError) -> dict[str, Any]:
    # Extra members first: they may never overwrite the standard ones.
    body: dict[str, Any] = {**error.extra}
    body.update({
        "type": PROBLEM_TYPE_BASE + error.code,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
    })
    if error.errors:
        body["errors"] = error.errors
    return body


def problem_response(error: HubError) -> Response:
    response = current_app.response_class(
        json.dumps(problem_body(error)), status=error.status, mimetype=PROBLEM_JSON)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response
