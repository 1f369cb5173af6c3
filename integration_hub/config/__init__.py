"""Typed settings read from the environment (docs/deployment.md, "Keys and the environment file").

One table (table.py) names every variable, its reader, default and meaning; ``Settings``
holds the app's values in groups (settings.py), ``serving_settings`` gunicorn's. Development
generates missing secrets once into the instance folder and says so; production refuses to
start without them.

Nothing here loads the app: gunicorn.conf.py reads its settings before prometheus_client
may be imported.
"""

from __future__ import annotations

from integration_hub.config.readers import (
    ENVIRONMENTS,
    QUEUE_SCHEMES,
    ConfigError,
    normalise_database_url,
    provider_credentials,
)
from integration_hub.config.settings import (
    DatabaseSettings,
    HubSettings,
    LogSettings,
    OAuthSettings,
    ProxySettings,
    QuerySettings,
    QueueSettings,
    RecordSettings,
    ServingSettings,
    Settings,
    WebhookSettings,
    WebSettings,
    serving_settings,
)

__all__ = [
    "ENVIRONMENTS", "QUEUE_SCHEMES", "ConfigError", "DatabaseSettings", "HubSettings",
    "LogSettings", "OAuthSettings", "ProxySettings", "QuerySettings", "QueueSettings",
    "RecordSettings", "ServingSettings", "Settings", "WebSettings", "WebhookSettings",
    "current_settings", "normalise_database_url", "provider_credentials", "serving_settings",
]


def current_settings() -> Settings:
    """The settings of the app handling the current request or command."""
    from flask import current_app

    return current_app.config["HUB_SETTINGS"]
