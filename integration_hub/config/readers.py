"""How one variable's text becomes a setting's value; the table (table.py) names a reader per
variable.

A reader is called with the variable's text (the table's default when it is unset), the
table entry (its name is what a message names), and what has been read before it: whether
this is production, and the instance folder. It returns the value or raises ConfigError.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet

from integration_hub.config.instance_secrets import instance_secret
from integration_hub.private_files import private_folder

if TYPE_CHECKING:
    from integration_hub.config.table import Setting

ENVIRONMENTS = ("development", "production")
QUEUE_SCHEMES = ("sqlite:///", "redis://", "rediss://")


class ConfigError(RuntimeError):
    """The environment does not describe a runnable hub."""


@dataclass
class SoFar:
    """The environment being read, and the values read from it so far."""

    environ: Mapping[str, str]
    instance_default: Path | str | None = None  # the app's instance folder, when no variable says
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.values.get("env") == "production"

    @property
    def instance(self) -> Path:
        return self.values["instance_path"]


Reader = Callable[[str, "Setting", SoFar], Any]


# --- plain values ----------------------------------------------------------------------------

def boolean(raw: str, setting: Setting, _so_far: SoFar | None = None) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{setting.env} must be true or false, not {raw!r}")


def integer(minimum: int = 0) -> Reader:
    def read(raw: str, setting: Setting, _so_far: SoFar) -> int:
        try:
            number = int(raw)
        except ValueError:
            raise ConfigError(f"{setting.env} must be an integer, not {raw!r}") from None
        if number < minimum:
            raise ConfigError(f"{setting.env} must be at least {minimum}")
        return number

    return read


def number(zero_allowed: bool = False) -> Reader:
    def read(raw: str, setting: Setting, _so_far: SoFar) -> float:
        name = setting.env
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, not {raw!r}") from None
        if not math.isfinite(value):  # an endless timeout is no timeout (and no timer takes it)
            raise ConfigError(f"{name} must be a finite number, not {raw!r}")
        if value < 0 or (value == 0 and not zero_allowed):
            raise ConfigError(f"{name} must be {'zero or ' if zero_allowed else ''}positive")
        return value

    return read


def text(raw: str, _setting: Setting, _so_far: SoFar) -> str:
    return raw


def text_or_default(raw: str, setting: Setting, _so_far: SoFar) -> str:
    """Blank counts as unset."""
    return raw.strip() or setting.default


def text_or_none(raw: str, _setting: Setting, _so_far: SoFar) -> str | None:
    return raw.strip() or None


def upper(raw: str, _setting: Setting, _so_far: SoFar) -> str:
    return raw.upper()


def origins(raw: str, _setting: Setting, _so_far: SoFar) -> tuple[str, ...]:
    """Comma-separated origins, compared without a trailing slash."""
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


def folder_or_none(raw: str, _setting: Setting, _so_far: SoFar) -> Path | None:
    return Path(raw).resolve() if raw.strip() else None


# --- values that depend on what was read before ------------------------------------------------

def environment(raw: str, _setting: Setting, _so_far: SoFar) -> str:
    env = raw.strip().lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"HUB_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    return env


def instance_folder(raw: str, _setting: Setting, so_far: SoFar) -> Path:
    return Path(raw or so_far.instance_default or "instance").resolve()


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


def database_url(raw: str, _setting: Setting, so_far: SoFar) -> str:
    url = raw.strip()
    if not url:
        url = f"sqlite:///{so_far.instance / 'integration-hub.db'}"
        private_folder(so_far.instance)
    return normalise_database_url(url)


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


def secret_key(raw: str, _setting: Setting, so_far: SoFar) -> str:
    key = raw.strip()
    if not key:
        if so_far.production:
            raise ConfigError("SECRET_KEY must be set in production")
        return instance_secret(so_far.instance, "secret-key", lambda: secrets.token_urlsafe(48),
                               "session secret key")
    if so_far.production:
        _check_production_secret_key(key, so_far.instance)
    return key


def no_debug_in_production(raw: str, setting: Setting, so_far: SoFar) -> None:
    """Flask's own variable: only refused in production, never read otherwise."""
    if so_far.production and boolean(raw or "false", setting):
        raise ConfigError("debug mode is for development; unset FLASK_DEBUG in production")


def encryption_keys(raw: str, _setting: Setting, so_far: SoFar) -> tuple[str, ...]:
    raw = raw.strip()
    if not raw:
        if so_far.production:
            raise ConfigError("HUB_ENCRYPTION_KEYS must be set in production")
        raw = instance_secret(so_far.instance, "encryption-keys",
                              lambda: Fernet.generate_key().decode(), "encryption key")
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if not keys:
        raise ConfigError("HUB_ENCRYPTION_KEYS holds no key (comma-separated Fernet keys)")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):  # the message names the position, never the key
            raise ConfigError(
                f"HUB_ENCRYPTION_KEYS entry {position} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from None
    return keys


def public_url(raw: str, _setting: Setting, _so_far: SoFar) -> str | None:
    url = raw.strip().rstrip("/") or None
    if raw.strip() and (not url or not url.lower().startswith(("http://", "https://"))):
        raise ConfigError("HUB_PUBLIC_URL must be an absolute http(s) URL")
    return url


def queue_url(raw: str, _setting: Setting, so_far: SoFar) -> str:
    url = raw.strip() or f"sqlite:///{so_far.instance / 'queue.db'}"  # the folder is made on first use
    if not url.startswith(QUEUE_SCHEMES):
        raise ConfigError("HUB_QUEUE_URL must start with sqlite:///, redis:// or rediss://")
    return url


def log_format(raw: str, _setting: Setting, so_far: SoFar) -> str:
    value = raw.strip().lower() or ("json" if so_far.production else "text")
    if value not in ("json", "text"):
        raise ConfigError("HUB_LOG_FORMAT must be json or text")
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


def provider_clients(_raw: str, _setting: Setting, so_far: SoFar) -> dict[str, tuple[str, str | None]]:
    """A family of variables, one pair per catalogue type: read from the whole environment."""
    return provider_credentials(so_far.environ)
