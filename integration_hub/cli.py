"""The ``integration-hub`` command (also ``python -m integration_hub``): Flask's command line on
the app the factory makes, which carries the hub's commands (commands.py)."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from integration_hub.app import create_app


@click.group(cls=FlaskGroup, create_app=create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False)
def main():
    """integration-hub administration."""
