"""Every variable the hub reads, with its reader, its default and what it is for.

The README's configuration table documents these (tests/unit/test_settings_table.py checks
that names and defaults agree). Two tables: the app's settings (``Settings``), and the
serving ones gunicorn.conf.py reads before any of the app is loaded (``ServingSettings``).
"""

from __future__ import annotations

import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integration_hub.config import readers as r

MiB = 1024 * 1024


@dataclass(frozen=True)
class Setting:
    env: str                 # the variable
    attr: str | None         # the attribute it gives (None: only checked, never kept)
    read: r.Reader
    default: str | Callable[[], str] = ""  # the text read when the variable is unset
    doc: str = ""
    documented: str | None = None  # the default as the README words it, when worked out
    also: tuple[str, ...] = ()     # more variables this entry reads (a family, as one)

    def raw(self, environ: Mapping[str, str]) -> str:
        value = environ.get(self.env)
        if value is None:
            return self.default() if callable(self.default) else self.default
        return value

    @property
    def documented_default(self) -> str:
        """How the README's table states the default: `text`, or — for none."""
        if self.documented is not None:
            return self.documented
        return f"`{self.default}`" if self.default else "—"

    @property
    def names(self) -> tuple[str, ...]:
        return (self.env, *self.also)

    def matches(self, name: str) -> bool:
        """``name`` is one of this entry's variables; ``<TYPE>`` stands for any catalogue type."""
        return name in self.names or any(
            re.fullmatch(re.escape(pattern).replace("<TYPE>", "[A-Z0-9_]+"), name)
            for pattern in self.names)


# In the order they are read: a later value may depend on an earlier one (the instance
# folder, production or not), and of several problems the first one read is reported.
APP_SETTINGS = (
    Setting("HUB_ENV", "env", r.environment, "development",
            "development or production (which refuses to start without its secrets)"),
    Setting("HUB_INSTANCE_PATH", "instance_path", r.instance_folder, "",
            "where development secrets and the SQLite files live", documented="`instance/`"),
    Setting("DATABASE_URL", "database_url", r.database_url, "",
            "the hub's own database", documented="SQLite file `instance/integration-hub.db`"),
    Setting("SECRET_KEY", "secret_key", r.secret_key, "", "signs session cookies",
            documented="generated once into `instance/secret-key` (development)"),
    Setting("FLASK_DEBUG", None, r.no_debug_in_production, "false",
            "Flask's debug mode; production refuses to start with it on"),
    Setting("HUB_ENCRYPTION_KEYS", "encryption_keys", r.encryption_keys, "",
            "Fernet keys: the first encrypts stored secrets, all decrypt",
            documented="generated once into `instance/encryption-keys` (development)"),
    Setting("HUB_PUBLIC_URL", "public_url", r.public_url, "",
            "external base URL: pins scheme, host and path prefix of every link"),
    Setting("HUB_QUEUE_URL", "queue_url", r.queue_url, "",
            "the task queue: sqlite:///<file> (one machine) or redis://... (several)",
            documented="SQLite file `instance/queue.db`"),
    Setting("HUB_DATABASE_BUSY_TIMEOUT", "database_busy_timeout", r.number(), "30",
            "SQLite: seconds a write waits for the write lock before answering 503"),
    Setting("HUB_TRUSTED_PROXIES", "trusted_proxies", r.integer(), "0",
            "proxies in front of the hub that set X-Forwarded-*"),
    Setting("HUB_DEFAULT_TENANT", "default_tenant", r.text_or_default, "default",
            "tenant of sign-in and the command line when none is named"),
    Setting("HUB_PROXY_CONNECT_TIMEOUT", "proxy_connect_timeout", r.number(), "10",
            "seconds the request proxy waits to connect to an upstream"),
    Setting("HUB_PROXY_READ_TIMEOUT", "proxy_read_timeout", r.number(), "60",
            "seconds for an upstream answer's head, and the longest pause in its body"),
    Setting("HUB_PROXY_MAX_TIMEOUT", "proxy_max_timeout", r.number(), "300",
            "ceiling of an integration's own timeout"),
    Setting("HUB_PROXY_MAX_BODY", "proxy_max_body", r.integer(1), str(100 * MiB),
            "largest proxied request body in bytes"),
    Setting("HUB_MAX_JSON_BODY", "max_json_body", r.integer(1024), str(MiB),
            "largest JSON request body in bytes"),
    Setting("HUB_LOG_LEVEL", "log_level", r.upper, "INFO", "log level"),
    Setting("HUB_PROVIDER_<TYPE>_CLIENT_ID", "provider_credentials", r.provider_clients, "",
            "OAuth clients per catalogue type, for provisioning integrations",
            also=("HUB_PROVIDER_<TYPE>_CLIENT_SECRET",)),
    Setting("HUB_ALLOWED_RETURN_ORIGINS", "allowed_return_origins", r.origins, "",
            "origins besides the hub's own that returnTo may send a browser back to"),
    Setting("HUB_TOKEN_REFRESH_SKEW", "token_refresh_skew", r.integer(), "60",
            "seconds before expiry an OAuth access token is refreshed"),
    Setting("HUB_REVOCATION_DEADLINE", "revocation_deadline", r.number(), "10",
            "seconds deleting a user waits for revoking their OAuth tokens"),
    Setting("HUB_PROXY_DENY_PRIVATE", "proxy_deny_private", r.boolean, "false",
            "refuse outbound calls to loopback, private, link-local ... addresses"),
    Setting("HUB_PROXY_MAX_RETRY_WAIT", "proxy_max_retry_wait", r.number(), "30",
            "longest wait in seconds before a retry"),
    Setting("HUB_SQLITE_ROOT", "sqlite_root", r.folder_or_none, "",
            "the folder SQLite database integrations may open files under"),
    Setting("HUB_QUERY_MAX_BYTES", "query_max_bytes", r.integer(1024), str(16 * MiB),
            "most bytes of rows a database query answers (then truncated)"),
    Setting("HUB_IMPORT_MAX_BYTES", "import_max_bytes", r.integer(1), str(10 * MiB),
            "largest import file in bytes"),
    Setting("HUB_SYNC_MAX_RECORDS", "sync_max_records", r.integer(1), "100000",
            "most items a sync's listing may hold"),
    Setting("HUB_SYNC_MAX_PAGE_BYTES", "sync_max_page_bytes", r.integer(1024), str(8 * MiB),
            "largest sync page in bytes (decoded), refused before parsing"),
    Setting("HUB_SYNC_PAGE_TIMEOUT", "sync_page_timeout", r.number(), "120",
            "seconds for a whole sync page, retries included"),
    Setting("HUB_SYNC_LEASE", "sync_lease_seconds", r.integer(30), "600",
            "seconds a sync run holds its integration without progress"),
    Setting("HUB_WEBHOOK_MAX_ATTEMPTS", "webhook_max_attempts", r.integer(1), "6",
            "attempts per webhook delivery"),
    Setting("HUB_WEBHOOK_RETRY_BASE", "webhook_retry_base_seconds", r.integer(1), "120",
            "seconds before the first retry; each further wait doubles"),
    Setting("HUB_WEBHOOK_TIMEOUT", "webhook_timeout_seconds", r.number(), "10",
            "seconds a receiver has for a whole attempt"),
    Setting("HUB_WEBHOOK_DISABLE_AFTER_HOURS", "webhook_disable_after_hours", r.number(), "24",
            "hours a webhook may keep failing before it is switched off"),
    Setting("HUB_WEBHOOK_RETENTION_DAYS", "webhook_retention_days", r.integer(1), "30",
            "days finished deliveries are kept"),
    Setting("HUB_WEBHOOK_THREADS", "webhook_threads", r.integer(1), "4",
            "threads of a worker process that send deliveries"),
    Setting("HUB_WEBHOOK_RECEIVER_CONCURRENCY", "webhook_receiver_concurrency", r.integer(1), "1",
            "attempts one webhook may have running at once, across all workers"),
    Setting("HUB_WEBHOOK_TENANT_CONCURRENCY", "webhook_tenant_concurrency", r.integer(1), "2",
            "attempts one tenant's webhooks may have running at once, across all workers"),
    Setting("HUB_AUDIT_RETENTION_DAYS", "audit_retention_days", r.integer(), "365",
            "days audit entries are kept (0: for ever)"),
    Setting("HUB_REQUEST_LOG_RETENTION_DAYS", "request_log_retention_days", r.integer(), "30",
            "days the proxy's request log is kept (0: for ever)"),
    Setting("HUB_METRICS_TOKEN", "metrics_token", r.text_or_none, "",
            "bearer token /metrics answers to; unset: /metrics is off"),
    Setting("HUB_CORS_ORIGINS", "cors_origins", r.origins, "",
            "browser origins allowed to call the API cross-origin"),
    Setting("HUB_LOGIN_MAX_FAILURES", "login_max_failures", r.integer(1), "5",
            "failed sign-ins per user or client address before sign-in answers 429"),
    Setting("HUB_LOGIN_WINDOW", "login_window_seconds", r.integer(1), "900",
            "seconds the failed sign-ins are counted over"),
    Setting("HUB_REQUEST_LOG_FLUSH", "request_log_flush_seconds", r.number(zero_allowed=True), "0.5",
            "seconds between writes of the request log (0: with each call)"),
    Setting("HUB_LOG_FORMAT", "log_format", r.log_format, "",
            "json (one object per line) or text", documented="`json` in production, else `text`"),
)


def _cpu_workers() -> str:
    return str(min(4, multiprocessing.cpu_count()))


SERVING_SETTINGS = (
    Setting("HUB_BIND", "bind", r.text_or_default, "127.0.0.1:8000",
            "where gunicorn listens: host:port, [v6]:port or unix:path"),
    Setting("HUB_WORKERS", "workers", r.integer(), _cpu_workers,
            "gunicorn processes", documented="min(4, CPUs)"),
    Setting("HUB_THREADS", "threads", r.integer(), "8", "threads per gunicorn process"),
    Setting("HUB_WORKER_TIMEOUT", "worker_timeout", r.integer(), "120",
            "seconds a silent gunicorn process is given before it is replaced"),
    Setting("HUB_FORWARDED_ALLOW_IPS", "forwarded_allow_ips", r.text, "127.0.0.1,::1",
            "addresses gunicorn accepts X-Forwarded-* from"),
    Setting("HUB_ACCESS_LOG", "access_log", r.text_or_none, "",
            "gunicorn's own access log (- for stdout); the hub logs requests itself",
            documented="— (off)"),
)

TABLE = APP_SETTINGS + SERVING_SETTINGS


def read(table: Iterable[Setting], environ: Mapping[str, str] | None = None,
         instance_default: Path | str | None = None) -> dict[str, Any]:
    """The values of ``table`` from ``environ`` (default: the process's), by attribute."""
    so_far = r.SoFar(os.environ if environ is None else environ, instance_default)
    for setting in table:
        value = setting.read(setting.raw(so_far.environ), setting, so_far)
        if setting.attr is not None:
            so_far.values[setting.attr] = value
    return so_far.values


def setting(env: str) -> Setting:
    """The entry of one variable."""
    return next(entry for entry in TABLE if entry.env == env)


def value(env: str, environ: Mapping[str, str] | None = None) -> Any:
    """One variable's value, read alone (for one needing neither production nor the folder)."""
    entry = setting(env)
    return read([entry], environ)[entry.attr]
