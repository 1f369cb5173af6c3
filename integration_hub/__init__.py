"""integration-hub: register integrations once, share them, call them through the hub."""

from integration_hub.app import create_app

__all__ = ["create_app"]
