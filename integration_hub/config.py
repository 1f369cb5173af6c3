"""Typed settings read from the environment (docs/deployment.md, "Keys and the environment file").

Development generates missing secrets once into the instance folder and says
so; production refuses to start without them.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

from integration_hub.private_files import private_folder

log = logging.getLogger(__name__)

ENVIRONMENTS = ("development", "production")
QUEUE_SCHEMES = ("sqlite:///", "redis://", "rediss://")


class ConfigError(RuntimeError):
    """The environment does not describe a runnable hub."""


def _bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def _int(value: str, name: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return number


def _float(value: str, name: str, zero_allowed: bool = False) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number):  # an endless timeout is no timeout (and no timer takes it)
        raise ConfigError(f"{name} must be a finite number, not {value!r}")
    if number < 0 or (number == 0 and not zero_allowed):
        raise ConfigError(f"{name} must be {'zero or ' if zero_allowed else ''}positive")
    return number


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL and PyMySQL for MySQL unless a driver is named."""
    for plain, with_driver in (
        ("postgres://", "postgresql+psycopg://"),
        ("postgresql://", "postgresql+psycopg://"),
        ("mysql://", "mysql+pymysql://"),
        ("mariadb://", "mysql+pymysql://"),
    ):
        if url.startswith(plain):
            return with_driver + url[len(plain):]
    return url


def _log_format(value: str, production: bool) -> str:
    value = value.strip().lower() or ("json" if production else "text")
    if value not in ("json", "text"):
        raise ConfigError("HUB_LOG_FORMAT must be json or text")
    return value


# Words that mark a key someone meant to replace.
PLACEHOLDER_KEYS = ("change", "secret-key", "development", "example", "placeholder", "xxxxxxxx")


def _check_production_secret_key(secret_key: str, instance: Path) -> None:
    if len(secret_key) < 32:
        raise ConfigError("SECRET_KEY must be at least 32 characters in production")
    development_key = instance / "secret-key"
    if development_key.exists() and development_key.read_text().strip() == secret_key:
        raise ConfigError("SECRET_KEY is the development key of the instance folder; "
                          "generate a new one for production")
    if any(word in secret_key.lower() for word in PLACEHOLDER_KEYS) or len(set(secret_key)) < 10:
        raise ConfigError("SECRET_KEY looks like a placeholder; generate one: "
                          "python -c 'import secrets; print(secrets.token_urlsafe(48))'")


def _instance_secret(instance_path: Path, filename: str, make: callable, what: str) -> str:
    """Read a development secret from the instance folder, creating it once."""
    path = instance_path / filename
    if path.exists():
        return path.read_text().strip()
    private_folder(instance_path)
    value = make()
    # Write under a temporary name, then link into place: of several workers
    # starting at once exactly one wins, and no one reads a half-written file.
    staging = instance_path / f".{filename}.{secrets.token_hex(8)}"
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    try:
        os.link(staging, path)
    except FileExistsError:
        return path.read_text().strip()
    finally:
        staging.unlink()
    log.warning(
        "Generated a development %s in the instance folder (%s). "
        "Set it in the environment for production.", what, filename,
    )
    return value


def provider_credentials(env_vars: Mapping[str, str]) -> dict[str, tuple[str, str | None]]:
    """``HUB_PROVIDER_GOOGLE_DRIVE_CLIENT_ID`` (+ ``_CLIENT_SECRET``) -> {"google-drive": (...)}."""
    found = {}
    for name, value in env_vars.items():
        if name.startswith("HUB_PROVIDER_") and name.endswith("_CLIENT_ID") and value.strip():
            key = name[len("HUB_PROVIDER_"):-len("_CLIENT_ID")]
            secret = env_vars.get(f"HUB_PROVIDER_{key}_CLIENT_SECRET", "").strip() or None
            found[key.lower().replace("_", "-")] = (value.strip(), secret)
    return found


@dataclass(frozen=True)
class Settings:
    env: str
    instance_path: Path
    database_url: str
    secret_key: str
    encryption_keys: tuple[str, ...]
    # SQLite: how long a writer waits for the write lock before the request answers 503.
    database_busy_timeout: float = 30.0
    public_url: str | None = None
    trusted_proxies: int = 0
    default_tenant: str = "default"
    proxy_connect_timeout: float = 10.0
    proxy_read_timeout: float = 60.0
    proxy_max_timeout: float = 300.0
    proxy_max_body: int = 100 * 1024 * 1024
    max_json_body: int = 1024 * 1024
    token_last_used_resolution: int = 60
    log_level: str = "INFO"
    # Origins (besides the hub's own) that returnTo may send a browser back to.
    allowed_return_origins: tuple[str, ...] = ()
    token_refresh_skew: int = 60
    # Deleting a user waits at most this long (seconds) for revoking their OAuth tokens.
    revocation_deadline: float = 10.0
    # Refuse upstreams whose connected address is loopback/private/link-local/...
    proxy_deny_private: bool = False
    proxy_max_retry_wait: float = 30.0
    # SQLite database integrations may only open files under this directory.
    sqlite_root: Path | None = None
    # A database query's answer holds at most this many bytes of rows (then truncated).
    query_max_bytes: int = 16 * 1024 * 1024
    # Catalogue type -> (client id, client secret) for provisioning OAuth2 integrations.
    provider_credentials: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    # The task queue: sqlite:///<file> (one machine) or redis://host:port/db (several).
    queue_url: str = ""
    import_max_bytes: int = 10 * 1024 * 1024
    sync_max_records: int = 100_000
    # A sync page (decoded) holds at most this many bytes; it is refused before parsing.
    sync_max_page_bytes: int = 8 * 1024 * 1024
    # Seconds for a whole sync page (retries included), however slowly its bytes arrive.
    sync_page_timeout: float = 120.0
    # A sync run holds its integration this long without progress before another may start.
    sync_lease_seconds: int = 600
    # Webhook deliveries: attempts per event, the first retry's delay (doubling after
    # each failure), the receiver's time for a whole attempt, and how long a webhook may
    # keep failing before it is switched off.
    webhook_max_attempts: int = 6
    webhook_retry_base_seconds: int = 120
    webhook_timeout_seconds: float = 10.0
    webhook_disable_after_hours: float = 24.0
    webhook_retention_days: int = 30
    # Threads of a worker process that send deliveries (besides those running other
    # tasks), and the attempts one webhook and one tenant may have running at once,
    # across all workers (docs/security.md, "Slow receivers").
    webhook_threads: int = 4
    webhook_receiver_concurrency: int = 1
    webhook_tenant_concurrency: int = 2
    # Audit entries and the proxy's request log are deleted after this many days; 0 keeps them.
    audit_retention_days: int = 365
    request_log_retention_days: int = 30
    # /metrics answers only with this bearer token; unset: /metrics is off (404).
    metrics_token: str | None = None
    # Browser origins allowed to call the API cross-origin (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    # Sign-in attempts: after this many failures per user, or per client address, in
    # the window, sign-in answers 429 until the window ends.
    login_max_failures: int = 5
    login_window_seconds: int = 900
    log_format: str = "text"  # text | json
    # The proxy's request log is written in batches this often (seconds); 0: with each call.
    request_log_flush_seconds: float = 0.5

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 instance_path: Path | None = None) -> Settings:
        env_vars = os.environ if environ is None else environ
        env = env_vars.get("HUB_ENV", "development").strip().lower()
        if env not in ENVIRONMENTS:
            raise ConfigError(f"HUB_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
        production = env == "production"
        instance = Path(env_vars.get("HUB_INSTANCE_PATH") or instance_path or "instance").resolve()

        database_url = env_vars.get("DATABASE_URL", "").strip()
        if not database_url:
            database_url = f"sqlite:///{instance / 'integration-hub.db'}"
            private_folder(instance)
        database_url = normalise_database_url(database_url)

        secret_key = env_vars.get("SECRET_KEY", "").strip()
        if not secret_key:
            if production:
                raise ConfigError("SECRET_KEY must be set in production")
            secret_key = _instance_secret(instance, "secret-key", lambda: secrets.token_urlsafe(48),
                                          "session secret key")
        elif production:
            _check_production_secret_key(secret_key, instance)
        if production and _bool(env_vars.get("FLASK_DEBUG", "false") or "false", "FLASK_DEBUG"):
            raise ConfigError("debug mode is for development; unset FLASK_DEBUG in production")

        raw_keys = env_vars.get("HUB_ENCRYPTION_KEYS", "").strip()
        if not raw_keys:
            if production:
                raise ConfigError("HUB_ENCRYPTION_KEYS must be set in production")
            raw_keys = _instance_secret(instance, "encryption-keys",
                                        lambda: Fernet.generate_key().decode(), "encryption key")
        keys = tuple(k.strip() for k in raw_keys.split(",") if k.strip())
        if not keys:
            raise ConfigError("HUB_ENCRYPTION_KEYS holds no key (comma-separated Fernet keys)")
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key)
            except (ValueError, TypeError):
                raise ConfigError(
                    f"HUB_ENCRYPTION_KEYS entry {position} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes)"
                ) from None

        public_url = env_vars.get("HUB_PUBLIC_URL", "").strip().rstrip("/") or None
        if env_vars.get("HUB_PUBLIC_URL", "").strip() and (
                not public_url or not public_url.lower().startswith(("http://", "https://"))):
            raise ConfigError("HUB_PUBLIC_URL must be an absolute http(s) URL")

        queue_url = env_vars.get("HUB_QUEUE_URL", "").strip()
        if not queue_url:
            queue_url = f"sqlite:///{instance / 'queue.db'}"  # the folder is made on first use
        if not queue_url.startswith(QUEUE_SCHEMES):
            raise ConfigError("HUB_QUEUE_URL must start with sqlite:///, redis:// or rediss://")

        return cls(
            env=env,
            instance_path=instance,
            database_url=database_url,
            database_busy_timeout=_float(env_vars.get("HUB_DATABASE_BUSY_TIMEOUT", "30"),
                                         "HUB_DATABASE_BUSY_TIMEOUT"),
            secret_key=secret_key,
            encryption_keys=keys,
            public_url=public_url,
            trusted_proxies=_int(env_vars.get("HUB_TRUSTED_PROXIES", "0"), "HUB_TRUSTED_PROXIES"),
            default_tenant=env_vars.get("HUB_DEFAULT_TENANT", "default").strip() or "default",
            proxy_connect_timeout=_float(env_vars.get("HUB_PROXY_CONNECT_TIMEOUT", "10"),
                                         "HUB_PROXY_CONNECT_TIMEOUT"),
            proxy_read_timeout=_float(env_vars.get("HUB_PROXY_READ_TIMEOUT", "60"),
                                      "HUB_PROXY_READ_TIMEOUT"),
            proxy_max_timeout=_float(env_vars.get("HUB_PROXY_MAX_TIMEOUT", "300"),
                                     "HUB_PROXY_MAX_TIMEOUT"),
            proxy_max_body=_int(env_vars.get("HUB_PROXY_MAX_BODY", str(100 * 1024 * 1024)),
                                "HUB_PROXY_MAX_BODY", 1),
            max_json_body=_int(env_vars.get("HUB_MAX_JSON_BODY", str(1024 * 1024)),
                               "HUB_MAX_JSON_BODY", 1024),
            log_level=env_vars.get("HUB_LOG_LEVEL", "INFO").upper(),
            provider_credentials=provider_credentials(env_vars),
            allowed_return_origins=tuple(
                o.strip().rstrip("/") for o in
                env_vars.get("HUB_ALLOWED_RETURN_ORIGINS", "").split(",") if o.strip()),
            token_refresh_skew=_int(env_vars.get("HUB_TOKEN_REFRESH_SKEW", "60"),
                                    "HUB_TOKEN_REFRESH_SKEW"),
            revocation_deadline=_float(env_vars.get("HUB_REVOCATION_DEADLINE", "10"),
                                       "HUB_REVOCATION_DEADLINE"),
            proxy_deny_private=_bool(env_vars.get("HUB_PROXY_DENY_PRIVATE", "false"),
                                     "HUB_PROXY_DENY_PRIVATE"),
            proxy_max_retry_wait=_float(env_vars.get("HUB_PROXY_MAX_RETRY_WAIT", "30"),
                                        "HUB_PROXY_MAX_RETRY_WAIT"),
            sqlite_root=(Path(env_vars["HUB_SQLITE_ROOT"]).resolve()
                         if env_vars.get("HUB_SQLITE_ROOT", "").strip() else None),
            query_max_bytes=_int(env_vars.get("HUB_QUERY_MAX_BYTES", str(16 * 1024 * 1024)),
                                 "HUB_QUERY_MAX_BYTES", 1024),
            queue_url=queue_url,
            import_max_bytes=_int(env_vars.get("HUB_IMPORT_MAX_BYTES", str(10 * 1024 * 1024)),
                                  "HUB_IMPORT_MAX_BYTES", 1),
            sync_max_records=_int(env_vars.get("HUB_SYNC_MAX_RECORDS", "100000"),
                                  "HUB_SYNC_MAX_RECORDS", 1),
            sync_max_page_bytes=_int(env_vars.get("HUB_SYNC_MAX_PAGE_BYTES", str(8 * 1024 * 1024)),
                                     "HUB_SYNC_MAX_PAGE_BYTES", 1024),
            sync_page_timeout=_float(env_vars.get("HUB_SYNC_PAGE_TIMEOUT", "120"),
                                     "HUB_SYNC_PAGE_TIMEOUT"),
            sync_lease_seconds=_int(env_vars.get("HUB_SYNC_LEASE", "600"), "HUB_SYNC_LEASE", 30),
            webhook_max_attempts=_int(env_vars.get("HUB_WEBHOOK_MAX_ATTEMPTS", "6"),
                                      "HUB_WEBHOOK_MAX_ATTEMPTS", 1),
            webhook_retry_base_seconds=_int(env_vars.get("HUB_WEBHOOK_RETRY_BASE", "120"),
                                            "HUB_WEBHOOK_RETRY_BASE", 1),
            webhook_timeout_seconds=_float(env_vars.get("HUB_WEBHOOK_TIMEOUT", "10"),
                                           "HUB_WEBHOOK_TIMEOUT"),
            webhook_disable_after_hours=_float(env_vars.get("HUB_WEBHOOK_DISABLE_AFTER_HOURS", "24"),
                                               "HUB_WEBHOOK_DISABLE_AFTER_HOURS"),
            webhook_retention_days=_int(env_vars.get("HUB_WEBHOOK_RETENTION_DAYS", "30"),
                                        "HUB_WEBHOOK_RETENTION_DAYS", 1),
            webhook_threads=_int(env_vars.get("HUB_WEBHOOK_THREADS", "4"), "HUB_WEBHOOK_THREADS", 1),
            webhook_receiver_concurrency=_int(env_vars.get("HUB_WEBHOOK_RECEIVER_CONCURRENCY", "1"),
                                              "HUB_WEBHOOK_RECEIVER_CONCURRENCY", 1),
            webhook_tenant_concurrency=_int(env_vars.get("HUB_WEBHOOK_TENANT_CONCURRENCY", "2"),
                                            "HUB_WEBHOOK_TENANT_CONCURRENCY", 1),
            audit_retention_days=_int(env_vars.get("HUB_AUDIT_RETENTION_DAYS", "365"),
                                      "HUB_AUDIT_RETENTION_DAYS"),
            request_log_retention_days=_int(env_vars.get("HUB_REQUEST_LOG_RETENTION_DAYS", "30"),
                                            "HUB_REQUEST_LOG_RETENTION_DAYS"),
            metrics_token=env_vars.get("HUB_METRICS_TOKEN", "").strip() or None,
            cors_origins=tuple(o.strip().rstrip("/") for o in
                               env_vars.get("HUB_CORS_ORIGINS", "").split(",") if o.strip()),
            login_max_failures=_int(env_vars.get("HUB_LOGIN_MAX_FAILURES", "5"),
                                    "HUB_LOGIN_MAX_FAILURES", 1),
            login_window_seconds=_int(env_vars.get("HUB_LOGIN_WINDOW", "900"), "HUB_LOGIN_WINDOW", 1),
            request_log_flush_seconds=_float(env_vars.get("HUB_REQUEST_LOG_FLUSH", "0.5"),
                                             "HUB_REQUEST_LOG_FLUSH", zero_allowed=True),
            log_format=_log_format(env_vars.get("HUB_LOG_FORMAT", ""), production),
        )

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


def current_settings() -> Settings:
    """The settings of the app handling the current request or command."""
    from flask import current_app

    return current_app.config["HUB_SETTINGS"]
