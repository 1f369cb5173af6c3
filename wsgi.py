"""WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

from integration_hub import create_app

app = create_app()
