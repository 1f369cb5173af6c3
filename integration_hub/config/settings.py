"""The settings, in groups: each group is what one part of the hub needs, and is handed to it.

``Settings`` is every group at once (it inherits their fields), so code that was given the
whole settings reads the same attribute names as code given only its group; ``settings.proxy``
and the like give a group alone. A group's fields keep the names of the variables' attributes
in table.py, which reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypeVar

from integration_hub.config import table


@dataclass(frozen=True)
class HubSettings:
    """This hub: its mode, its folder, its keys and the tenant used when none is named."""

    env: str
    instance_path: Path
    secret_key: str
    encryption_keys: tuple[str, ...]
    default_tenant: str

    @property
    def production(self) -> bool:
        return self.env == "production"


@dataclass(frozen=True)
class DatabaseSettings:
    """The hub's own database."""

    database_url: str
    # SQLite: how long a writer waits for the write lock before the request answers 503.
    database_busy_timeout: float


@dataclass(frozen=True)
class QueueSettings:
    """The task queue: sqlite:///<file> (one machine) or redis://host:port/db (several)."""

    queue_url: str


@dataclass(frozen=True)
class WebSettings:
    """How the hub is reached and what it accepts over HTTP."""

    public_url: str | None
    trusted_proxies: int
    max_json_body: int
    # Browser origins allowed to call the API cross-origin (CORS); none by default.
    cors_origins: tuple[str, ...]
    # /metrics answers only with this bearer token; unset: /metrics is off (404).
    metrics_token: str | None
    # Sign-in attempts: after this many failures per user, or per client address, in
    # the window, sign-in answers 429 until the window ends.
    login_max_failures: int
    login_window_seconds: int


@dataclass(frozen=True)
class ProxySettings:
    """The request proxy, and every outbound call's address rule."""

    proxy_connect_timeout: float
    proxy_read_timeout: float
    proxy_max_timeout: float
    proxy_max_body: int
    # Refuse upstreams whose connected address is loopback/private/link-local/...
    proxy_deny_private: bool
    proxy_max_retry_wait: float


@dataclass(frozen=True)
class OAuthSettings:
    """OAuth2 connections: refreshing, revoking, returning the browser, provisioning."""

    token_refresh_skew: int
    # Deleting a user waits at most this long (seconds) for revoking their OAuth tokens.
    revocation_deadline: float
    # Origins (besides the hub's own) that returnTo may send a browser back to.
    allowed_return_origins: tuple[str, ...]
    # Catalogue type -> (client id, client secret) for provisioning OAuth2 integrations.
    provider_credentials: Mapping[str, tuple[str, str | None]]


@dataclass(frozen=True)
class QuerySettings:
    """Database integrations."""

    # SQLite database integrations may only open files under this directory.
    sqlite_root: Path | None
    # A database query's answer holds at most this many bytes of rows (then truncated).
    query_max_bytes: int


@dataclass(frozen=True)
class RecordSettings:
    """Records: imports and syncs."""

    import_max_bytes: int
    sync_max_records: int
    # A sync page (decoded) holds at most this many bytes; it is refused before parsing.
    sync_max_page_bytes: int
    # Seconds for a whole sync page (retries included), however slowly its bytes arrive.
    sync_page_timeout: float
    # A sync run holds its integration this long without progress before another may start.
    sync_lease_seconds: int


@dataclass(frozen=True)
class WebhookSettings:
    """Webhook deliveries: attempts per event, the first retry's delay (doubling after each
    failure), the receiver's time for a whole attempt, how long a webhook may keep failing
    before it is switched off, and how long finished deliveries are kept. Threads of a worker
    process send deliveries (besides those running other tasks); one webhook and one tenant
    may have so many attempts running at once, across all workers (docs/security.md, "Slow
    receivers")."""

    webhook_max_attempts: int
    webhook_retry_base_seconds: int
    webhook_timeout_seconds: float
    webhook_disable_after_hours: float
    webhook_retention_days: int
    webhook_threads: int
    webhook_receiver_concurrency: int
    webhook_tenant_concurrency: int


@dataclass(frozen=True)
class LogSettings:
    """The hub's log, the proxy's request log and the audit log."""

    log_level: str
    log_format: str  # text | json
    # The proxy's request log is written in batches this often (seconds); 0: with each call.
    request_log_flush_seconds: float
    # Audit entries and the proxy's request log are deleted after this many days; 0 keeps them.
    audit_retention_days: int
    request_log_retention_days: int


Group = TypeVar("Group")


def _group(settings: Settings, kind: type[Group]) -> Group:
    return kind(**{f.name: getattr(settings, f.name) for f in fields(kind)})


@dataclass(frozen=True)
class Settings(HubSettings, DatabaseSettings, QueueSettings, WebSettings, ProxySettings,
               OAuthSettings, QuerySettings, RecordSettings, WebhookSettings, LogSettings):
    """Every setting of the app, read from the environment by ``from_env``."""

    # Not a variable: seconds between updates of an API token's last use.
    token_last_used_resolution: int = 60

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 instance_path: Path | None = None) -> Settings:
        """Read APP_SETTINGS; ``instance_path`` is the folder when HUB_INSTANCE_PATH is unset."""
        return cls(**table.read(table.APP_SETTINGS, environ, instance_path))

    @property
    def hub(self) -> HubSettings:
        return _group(self, HubSettings)

    @property
    def database(self) -> DatabaseSettings:
        return _group(self, DatabaseSettings)

    @property
    def queue(self) -> QueueSettings:
        return _group(self, QueueSettings)

    @property
    def web(self) -> WebSettings:
        return _group(self, WebSettings)

    @property
    def proxy(self) -> ProxySettings:
        return _group(self, ProxySettings)

    @property
    def oauth(self) -> OAuthSettings:
        return _group(self, OAuthSettings)

    @property
    def queries(self) -> QuerySettings:
        return _group(self, QuerySettings)

    @property
    def records(self) -> RecordSettings:
        return _group(self, RecordSettings)

    @property
    def webhooks(self) -> WebhookSettings:
        return _group(self, WebhookSettings)

    @property
    def logs(self) -> LogSettings:
        return _group(self, LogSettings)

    def flask_config(self) -> dict:
        """The Flask and flask-smorest settings these values imply."""
        return {
            "SECRET_KEY": self.secret_key,
            "SESSION_COOKIE_NAME": "ihub_session",
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.production,
            "PERMANENT_SESSION_LIFETIME": 12 * 3600,
            "MAX_CONTENT_LENGTH": None,
            "JSON_SORT_KEYS": False,
            "API_TITLE": "integration-hub",
            "API_VERSION": "1",
            "OPENAPI_VERSION": "3.1.0",
            "OPENAPI_URL_PREFIX": "/api",
            "OPENAPI_JSON_PATH": "openapi.json",
            "OPENAPI_SWAGGER_UI_PATH": "docs",
        }


@dataclass(frozen=True)
class ServingSettings:
    """gunicorn's: read alone (``serving_settings``), before the app and its secrets."""

    bind: str
    workers: int
    threads: int
    worker_timeout: int
    forwarded_allow_ips: str
    access_log: str | None


def serving_settings(environ: Mapping[str, str] | None = None) -> ServingSettings:
    return ServingSettings(**table.read(table.SERVING_SETTINGS, environ))
