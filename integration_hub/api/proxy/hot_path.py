"""The request proxy's hot path: a raw proxied call whose token and plan this process
already holds (proxy/call_cache.py) is answered here, before Flask routes it, with no
database read (docs/decisions.md, "Performance").

It is not a second proxy. It takes only what it can answer exactly as the views would —
a bodyless GET, POST, PUT, PATCH or DELETE to ``/api/integrations/{id}/request/{path}``
with a bearer token, from no browser origin — and calls the same functions: the same
plan, ``prepared_call`` (URL guard, credentials, headers), ``calls.sent`` (the upstream
call, its deadline, retries, redirects and refresh), ``answers.streamed`` (the body and
the request-log row), and the status line and headers the views' answer has
(``answers.as_sent``), with the same access line and metrics; an answer a response
object would rewrite, and every failure, goes through the app's own after-request hooks
(and error handler) as the view's would. Anything
else, and every call this process has not seen under the current change generation,
goes on to Flask, which answers it and leaves its plan here for the next call. Once a
call is taken here it is answered here: nothing is sent upstream twice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from flask import Flask, Response, current_app, g
from werkzeug.datastructures import EnvironHeaders

from integration_hub.api.proxy.answers import (
    as_sent,
    raw_target,
    streamed,
    transparent,
)
from integration_hub.config import Settings
from integration_hub.db.generations import generations_of
from integration_hub.db.types import utcnow
from integration_hub.edge import logs, ops
from integration_hub.edge.security import Authentication
from integration_hub.identity import tokens
from integration_hub.outbound.upstream_http import forwardable_request_headers, response_headers
from integration_hub.proxy import calls, forwarding
from integration_hub.proxy.call_cache import CallCache, KnownBearer
from integration_hub.proxy.call_plans import CallPlan

ENDPOINT = "proxy.Raw"
TAKEN = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})  # HEAD: its answer is conditional
# The route of proxy.Raw: the integration's id or slug, and a path not starting with "/".
ROUTE = re.compile(r"/api/integrations/([^/]+)/request/([^/].*)\Z", re.DOTALL)
GENERATION = "integration_hub.generation"  # the environ key: read before anything else
CACHE = "integration_hub.call_cache"


def call_cache(app: Flask) -> CallCache:
    return app.extensions[CACHE]


def remember(environ: dict[str, Any], authentication: Authentication | None,
             integration_key: str, plan: CallPlan) -> None:
    """After a call the views answered: keep its token and plan for the next call, tagged
    with the generation read before the token was (None when it was not read here)."""
    generation = environ.get(GENERATION)
    bearer = authentication.token if authentication is not None else None
    if generation is None or bearer is None:
        return
    cache = call_cache(current_app)
    token_hash = _token_hash(environ.get("HTTP_AUTHORIZATION"))
    if token_hash is None:
        return
    now, last_used = utcnow(), bearer.last_used_at
    if last_used is None or now - last_used > timedelta(
            seconds=current_app.config["HUB_SETTINGS"].token_last_used_resolution):
        last_used = now  # the views touched it
    cache.keep_bearer(token_hash, KnownBearer(bearer.token_id, bearer.user.id, bearer.scopes,
                                              bearer.expires_at, last_used), generation)
    cache.keep_plan(bearer.user.id, integration_key, plan, generation)


def _token_hash(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials.startswith(tokens.TOKEN_PREFIX):
        return None
    return tokens.hash_token(credentials)


class ProxyHotPath:
    """WSGI middleware in front of the Flask app (inside ProxyFix and HUB_PUBLIC_URL, so
    the caller's address and the path are already as the views see them)."""

    def __init__(self, wsgi_app, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.route: str | None = None  # proxy.Raw's rule, the metrics' route label

    def __call__(self, environ: dict[str, Any], start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/api/integrations/") or "/request/" not in path:
            return self.wsgi_app(environ, start_response)
        generation = generations_of(self.app).current()
        environ[GENERATION] = generation
        taken = self._taken(environ, path, generation)
        if taken is None:
            return self.wsgi_app(environ, start_response)
        return self._answer(environ, start_response, *taken)

    def _taken(self, environ: dict[str, Any], path: str, generation: int | None):
        """(the token's entry, the plan, the path after ``/request/``) when this call is one
        to answer here; None sends it on to Flask."""
        method = environ.get("REQUEST_METHOD")
        if method not in TAKEN or environ.get("CONTENT_LENGTH") not in (None, "", "0") \
                or "HTTP_TRANSFER_ENCODING" in environ or "HTTP_ORIGIN" in environ \
                or "//" in path:
            return None
        route = ROUTE.match(path)
        cache = call_cache(self.app)
        if route is None or not cache.observe(generation):
            return None
        token_hash = _token_hash(environ.get("HTTP_AUTHORIZATION"))
        bearer = cache.bearer(token_hash) if token_hash is not None else None
        if bearer is None or "proxy" not in bearer.scopes:
            return None
        now = utcnow()
        if bearer.expires_at is not None and bearer.expires_at <= now:
            return None  # the views refuse it
        plan = cache.plan(bearer.user_id, route[1])
        if plan is None or (plan.token_expires_at is not None and plan.token_expires_at <= now):
            return None  # a token to refresh: the views do it, once
        resolution = timedelta(seconds=self._settings().token_last_used_resolution)
        if bearer.last_used_at is None or now - bearer.last_used_at > resolution:
            self._log().touch_token(bearer.token_id, now, resolution)
            cache.keep_bearer(token_hash, replace(bearer, last_used_at=now), generation)
        return bearer, plan, route[2]

    def _settings(self) -> Settings:
        return self.app.config["HUB_SETTINGS"]  # as current_settings() reads it

    def _log(self):
        return self.app.extensions["integration_hub.request_log"]

    def _answer(self, environ, start_response, bearer: KnownBearer, plan: CallPlan,
                decoded_target: str):
        started = time.monotonic()
        request_id = logs.request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        method = environ["REQUEST_METHOD"]
        call = forwarding.ProxyCall(
            method=method, target=raw_target(environ, decoded_target),
            query=environ.get("QUERY_STRING") or None,
            headers=forwardable_request_headers(EnvironHeaders(environ).items(),
                                                plan.forward_headers),
            body=None, content_length=0 if environ.get("CONTENT_LENGTH") == "0" else None)
        log = self._log()
        sessions = self.app.extensions["integration_hub.db"]  # opened only for a refresh
        try:
            prepared = forwarding.prepared_call(plan, call)
            answer = calls.sent(sessions, prepared, call, self._settings(), log)
        except Exception as failure:  # noqa: BLE001 - answered as the views answer it
            return self._failed(environ, start_response, failure, request_id, started)
        headers = response_headers(answer.headers.items())
        sent = as_sent(answer.status, headers, request_id)
        if sent is not None:  # the views' answer, without building a response object
            self._finished(environ, method, answer.status, started, request_id)
            start_response(*sent)
            return streamed(answer, prepared.record, log)
        # An answer a response object rewrites (a Location, no content): built as the view
        # builds it, finished by the same after-request hooks.
        return self._through_hooks(environ, start_response, request_id, started,
                                   lambda: transparent(answer, prepared.record, log, method))

    def _finished(self, environ, method: str, status: int, started: float,
                  request_id: str) -> None:
        """The access line and the metrics, by the functions the app's hooks call."""
        logs.access_line(method, environ.get("PATH_INFO", ""), status,
                         int((time.monotonic() - started) * 1000), environ.get("REMOTE_ADDR"),
                         request_id)
        ops.count_request(self.route or self._route(), method, status, started)

    def _route(self) -> str:
        self.route = next(rule.rule for rule in self.app.url_map.iter_rules()
                          if rule.endpoint == ENDPOINT)
        return self.route

    def _failed(self, environ, start_response, failure: Exception, request_id: str,
                started: float):
        """A failure once the call was taken: answered by the app's error handler, as if
        the view had raised it."""
        return self._through_hooks(
            environ, start_response, request_id, started,
            lambda: self.app.make_response(self.app.handle_user_exception(failure)))

    def _through_hooks(self, environ, start_response, request_id: str, started: float,
                       answer: Callable[[], Response]):
        """The response ``answer`` makes, finished by the app's after-request hooks
        (sandbox, request id, access line, metrics, CORS, page headers) in a request
        context of its own, as the view's would be."""
        with self.app.request_context(environ):
            g.request_id, g.request_started = request_id, started
            response = self.app.process_response(answer())
            return response(environ, start_response)
