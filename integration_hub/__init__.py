"""integration-hub: register integrations once, share them, call them through the hub."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from integration_hub.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str):
    # The factory is loaded when asked for, not with the package: gunicorn.conf.py reads the
    # settings table (integration_hub.config) before prometheus_client may be imported.
    if name == "create_app":
        from integration_hub.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
