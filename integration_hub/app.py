"""The application factory: configuration, then extensions, then routes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

from flask import Flask, request, url_for
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

from integration_hub import api as api_package
from integration_hub import commands, crypto, errors, queue, web
from integration_hub.api.extensions import Api
from integration_hub.api.proxy import hot_path
from integration_hub.api.webhooks import payloads as webhook_payloads
from integration_hub.config import LogSettings, Settings, WebSettings
from integration_hub.connections import store as connections
from integration_hub.db import session as db
from integration_hub.db.generations import generations_of
from integration_hub.dev import stand_ins as devtools
from integration_hub.edge import (
    body_limits,
    conditional,
    cors,
    logs,
    ops,
    request_framing,
    routing,
    text_guard,
)
from integration_hub.integrations import store as integrations
from integration_hub.proxy import request_log
from integration_hub.proxy.call_cache import CallCache
from integration_hub.records import store as records
from integration_hub.sync import schedules as sync_schedules
from integration_hub.webhooks import events as webhook_events

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, overrides: Mapping | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)  # static files are served by the web blueprint
    app.url_rule_class = routing.HubRule  # before any route is added
    app.url_map.converters.update(routing.CONVERTERS)
    settings = settings or Settings.from_env(instance_path=app.instance_path)
    configure(app, settings, overrides)
    register_proxy_hot_path(app)  # the innermost WSGI layer: inside ProxyFix
    register_proxy_support(app, settings.web)
    db.init_app(app, settings.database_url, settings.database_busy_timeout)
    register_request_log(app, settings.logs)
    crypto.init_app(app, settings.encryption_keys)
    queue.init_app(app)
    logs.init_app(app)
    ops.init_app(app)
    body_limits.init_app(app)
    text_guard.init_app(app)
    cors.init_app(app)  # before the API's authentication: preflights carry no credentials
    wire_domains(app)
    register_api(app)
    web.init_app(app)
    devtools.init_app(app)
    routing.reserve_fixed_words(app.url_map)  # every route is added by now
    register_error_handlers(app)
    app.after_request(conditional.add_etag)
    commands.init_app(app)
    # Outermost: whatever answers, a body left unread is drained or the connection closed.
    app.wsgi_app = request_framing.UnreadBodies(app.wsgi_app)
    return app


def configure(app: Flask, settings: Settings, overrides: Mapping | None) -> None:
    app.config.update(settings.flask_config())
    app.config["HUB_SETTINGS"] = settings
    app.config.update(overrides or {})
    app.json = StrictJSONProvider(app)
    app.json.sort_keys = False
    app.json.compact = True
    logs.configure_logging(settings.logs)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing NaN and Infinity (ValueError): they are not JSON (RFC 8259),
    and an answer holding one is a fault to find, never a document to send. Values that
    may be beyond a double are written as strings where they arise (records/sums.py,
    databases/query_values.py; docs/api-conventions.md, "Numbers")."""

    def dumps(self, obj, **kwargs) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)


def _problem_with_links(error: errors.HubError):
    """Errors that a new connection would cure link ``inf:connect`` for the integration;
    an API call without valid credentials links ``inf:login`` (a browser session)."""
    integration_id = (request.view_args or {}).get("integration_id")
    if getattr(error, "connect_link", False) and integration_id and "_links" not in error.extra:
        error.extra["_links"] = {"inf:connect": {"href": url_for(
            "connections.Connect", integration_id=integration_id)}}
    api_call = request.path == "/api" or request.path.startswith("/api/")
    if isinstance(error, errors.AuthenticationRequired) and api_call:
        error.extra.setdefault("_links", {"inf:login": {"href": url_for("session.Login")}})
    return errors.problem_response(error)


class PublicUrl:
    """WSGI middleware pinning scheme, host and path prefix to ``HUB_PUBLIC_URL``."""

    def __init__(self, wsgi_app, public_url: str) -> None:
        parts = urlsplit(public_url)
        self.wsgi_app = wsgi_app
        self.scheme = parts.scheme
        self.host = parts.netloc
        self.prefix = parts.path.rstrip("/")

    def __call__(self, environ, start_response):
        environ["wsgi.url_scheme"] = self.scheme
        environ["HTTP_HOST"] = self.host
        if self.prefix:
            environ["SCRIPT_NAME"] = self.prefix
            path = environ.get("PATH_INFO", "")
            if path.startswith(self.prefix + "/") or path == self.prefix:
                environ["PATH_INFO"] = path[len(self.prefix):]
        return self.wsgi_app(environ, start_response)


def register_proxy_hot_path(app: Flask) -> None:
    """Proxied calls this process has seen before skip Flask (api/proxy/hot_path.py)."""
    app.extensions[hot_path.CACHE] = CallCache()
    app.wsgi_app = hot_path.ProxyHotPath(app.wsgi_app, app)


def register_proxy_support(app: Flask, web: WebSettings) -> None:
    # PublicUrl inside ProxyFix: forwarded headers are applied first (the client's
    # address among them), then HUB_PUBLIC_URL pins scheme, host and prefix.
    if web.public_url:
        app.wsgi_app = PublicUrl(app.wsgi_app, web.public_url)
    hops = web.trusted_proxies
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,
                                x_port=hops, x_prefix=hops)


def register_request_log(app: Flask, log_settings: LogSettings) -> None:
    app.extensions["integration_hub.request_log"] = request_log.RequestLogBuffer(
        app.extensions["integration_hub.db"], log_settings.request_log_flush_seconds)


def wire_domains(app: Flask) -> None:
    """What the domain packages tell each other, in one place: the lower package cannot
    import those built on it (integrations -> connections, records, sync; webhooks -> the
    API's schemas), so they are handed over here."""
    integrations.init_app(app, integrations.Dependents(
        usage_counters={"connections": connections.count_for, "records": records.count_for},
        after_save=(sync_schedules.sync_saved,)),
        generation=generations_of(app).current)  # the list totals kept between changes
    webhook_events.init_app(app, webhook_payloads.REPRESENTATIONS)


def register_api(app: Flask) -> None:
    app.config["OPENAPI_SWAGGER_UI_URL"] = "assets/"  # any value enables /api/docs
    api = Api(app, spec_kwargs={"info": {
        "description": "Register integrations once, share them, and call them through "
                       "the hub. Resources and collections are HAL; start at GET /api. "
                       "The few plain JSON answers say so in their content type."}})
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description":
                       "A hub API token (ihub_...). Its scopes bound it: read (GET and HEAD), "
                       "proxy (the request proxy, every method), admin (anything its user may "
                       "do). A request outside them is 403 token_scope_insufficient, naming "
                       "the requiredScope. Programs may send the token as HTTP Basic "
                       "instead, as the user name with an empty password (curl -u "
                       "'<token>:'); browsers may not (401 basic_auth_from_browser)."})
    api.spec.components.security_scheme(
        "sessionCookie", {"type": "apiKey", "in": "cookie", "name": "ihub_session", "description":
                          "The session of a person signed in (the /login page or POST /api/login). "
                          "The browser sends it by itself: there is nothing to fill in here. "
                          "Writes with it need the X-CSRF-Token header; with a bearer token, "
                          "none."})
    api.spec.options["security"] = [{"bearerAuth": []}, {"sessionCookie": []}]
    api_package.register_blueprints(app, api)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(errors.HubError, _problem_with_links)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if db.pool_exhausted(error):
            log.warning("no pooled connection to the hub's database came free in time")
            return errors.problem_response(errors.DatabaseUnavailable(
                "every connection to the hub's database is in use; try again shortly"))
        log.exception("unhandled error")
        return errors.problem_response(errors.HubError(
            "the hub hit an unexpected error; it has been logged"))
