"""The hub's commands: database, identity administration, demo, serving.

The app factory adds them to ``app.cli``; the ``integration-hub`` entry point (cli.py) is
Flask's command line on that app.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from integration_hub import crypto, errors
from integration_hub.audit import entries as audit
from integration_hub.config import current_settings
from integration_hub.db import Base, migrations
from integration_hub.db.session import transaction
from integration_hub.dev import demo
from integration_hub.edge import serving
from integration_hub.identity import directory as identity
from integration_hub.identity import token_scopes, tokens
from integration_hub.queue import job_queue


def _settings():
    return current_settings()


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    result = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint=option)
        result[name] = value
    return result


def _fail_on_hub_errors(func):
    """Turn a HubError into a one-line message and exit status 1."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except errors.HubError as exc:
            raise click.ClickException(exc.detail) from None
        except crypto.SecretDecryptionError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


@click.group("db")
def db_group():
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision):
    """Migrate the database to REVISION (default: the latest)."""
    migrations.upgrade(_settings().database_url, revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision):
    """Migrate the database back to REVISION (e.g. base)."""
    migrations.downgrade(_settings().database_url, revision)
    click.echo(f"database at {revision}")


def _operator(tenant_id: str | None) -> audit.Actor:
    """Commands are run by an operator on the hub's machine: no user, no address."""
    return audit.Actor(tenant_id=tenant_id, username=None, channel="cli")


@click.command("create-tenant")
@click.argument("tenant_id")
@click.option("--name", help="Display name")
@click.option("--setting", "settings", multiple=True, metavar="NAME=VALUE")
@with_appcontext
@_fail_on_hub_errors
def create_tenant(tenant_id, name, settings):
    """Create a tenant (or update its name and settings)."""
    with transaction() as session:
        tenant = identity.ensure_tenant(session, tenant_id, name, _pairs(settings, "--setting"))
    click.echo(f"tenant {tenant.id} ready")


@click.command("create-user")
@click.argument("username")
@click.option("--tenant", help="Tenant id (default: the hub's default tenant)")
@click.option("--superuser", is_flag=True, help="Tenant administrator")
@click.option("--password", help="Enables password sign-in")
@click.option("--email")
@click.option("--display-name")
@click.option("--field", "fields", multiple=True, metavar="NAME=VALUE")
@click.option("--permission", "permissions", multiple=True)
@with_appcontext
@_fail_on_hub_errors
def create_user(username, tenant, superuser, password, email, display_name, fields, permissions):
    """Create a user."""
    tenant_id = tenant or _settings().default_tenant
    values = {"username": username, "superuser": superuser, "email": email,
              "fields": _pairs(fields, "--field"), "permissions": list(permissions)}
    if password:
        values["password"] = password
    if display_name:
        values["display_name"] = display_name
    with transaction() as session:
        identity.ensure_tenant(session, tenant_id)
        user = identity.create_user(session, tenant_id, values)
        audit.record(session, _operator(tenant_id), "user.create", "user", user.username,
                     {"fields": sorted(values)})
    click.echo(f"user {user.username} created in tenant {tenant_id}")


@click.command("create-team")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--tenant")
@click.option("--member", "members", multiple=True, metavar="USERNAME")
@with_appcontext
@_fail_on_hub_errors
def create_team(slug, name, tenant, members):
    """Create a team (its id becomes team:SLUG)."""
    tenant_id = tenant or _settings().default_tenant
    with transaction() as session:
        identity.ensure_tenant(session, tenant_id)
        team = identity.create_team(session, tenant_id, {
            "id": slug, "name": name, "members": [{"username": m} for m in members]})
        audit.record(session, _operator(tenant_id), "team.create", "team", team.principal_id,
                     {"name": name})
    click.echo(f"team {team.principal_id} created")


@click.command("create-token")
@click.argument("username")
@click.option("--tenant")
@click.option("--name", default="cli", show_default=True)
@click.option("--scope", "scopes", multiple=True, type=click.Choice(token_scopes.SCOPES),
              help="What the token may do (repeat for more; default: every scope)")
@with_appcontext
@_fail_on_hub_errors
def create_token(username, tenant, name, scopes):
    """Create an API token for USERNAME; the token is printed alone on the last line."""
    tenant_id = tenant or _settings().default_tenant
    with transaction() as session:
        user = identity.get_user(session, tenant_id, username)
        issued = tokens.issue_token(session, user, name, scopes=scopes or None)
        audit.record(session, _operator(tenant_id), "token.create", "token", issued.record.id,
                     {"name": name, "prefix": issued.record.prefix, "username": username,
                      "scopes": issued.record.scopes})
    click.echo(f"token for {username} (shown once; store it now):", err=True)
    click.echo(issued.plain)


@click.command("rotate-keys")
@with_appcontext
@_fail_on_hub_errors
def rotate_keys():
    """Re-encrypt every stored secret with the first key of HUB_ENCRYPTION_KEYS."""
    with transaction() as session:
        report = crypto.rotate_keys(session, crypto.keyring(), Base.metadata)
        audit.record(session, _operator(None), "keys.rotate", None, None,
                     {"secrets": report.secrets, "columns": len(report.columns)})
    click.echo(f"re-encrypted {report.secrets} secret(s) in {len(report.columns)} column(s)")


@click.command("demo")
@with_appcontext
@_fail_on_hub_errors
def demo_command():
    """Seed demo users, a team and a token (idempotent; development only)."""
    settings = _settings()
    if settings.production:
        raise click.ClickException("the demo is for development; HUB_ENV is production")
    base = settings.public_url or serving.local_url(serving.configured_bind())
    if base is None:
        raise click.ClickException("HUB_BIND is not a TCP address; set HUB_PUBLIC_URL to the "
                                   "address the hub is reached at")
    with transaction() as session:
        result = demo.seed(session, settings, base)
    click.echo(demo.instructions(result, base))


GUNICORN_CONFIG = "gunicorn.conf.py"


@click.command("serve")
@click.option("--config", "config_file", default=GUNICORN_CONFIG, show_default=True)
@click.option("--bind", help="Address to listen on (default: HUB_BIND, else 127.0.0.1:8000)")
@click.option("--worker/--no-worker", default=None,
              help="Also run a task-queue worker (default: when the queue is the embedded "
                   "SQLite one; with Redis, run workers of their own)")
@click.option("--check", is_flag=True,
              help="Only check that the address is free (exit status 1 when it is not)")
def serve(config_file, bind, worker, check):
    """Serve the hub with gunicorn and the committed configuration."""
    # The committed configuration binds HUB_BIND; another one says itself where it binds.
    address = bind or (serving.configured_bind() if config_file == GUNICORN_CONFIG else None)
    if address and serving.in_use(address):
        raise click.ClickException(serving.busy_message(address))
    if check:
        return
    args = [sys.executable, "-m", "gunicorn"]
    if Path(config_file).exists():
        args += ["-c", config_file]
    if address:  # the address checked is the one bound
        args += ["--bind", address]
    args.append("wsgi:app")
    if worker is None:
        worker = job_queue(current_app).embedded
    if not worker:
        os.execv(sys.executable, args)
    _serve_with_worker(args)


def _serve_with_worker(server_args: list[str]) -> None:
    """gunicorn and one queue worker as child processes; when either stops, both stop."""
    worker = subprocess.Popen([sys.executable, "-m", "integration_hub", "worker"])
    server = subprocess.Popen(server_args)
    children = (server, worker)

    def stop(signum, _frame):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    stop(signal.SIGTERM, None)
    for child in children:
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
    sys.exit(server.returncode or 0)


@click.command("worker")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Tasks run at the same time (threads), webhook deliveries apart")
def worker_command(workers):
    """Run a task-queue worker: sync runs, the scheduler that starts scheduled syncs,
    pruning, and webhook deliveries on HUB_WEBHOOK_THREADS threads of their own."""
    queue = job_queue(current_app)
    threads = current_settings().webhook_threads
    where = "embedded SQLite storage" if queue.embedded else "Redis"
    click.echo(f"integration-hub worker: {workers} thread(s) and {threads} for webhook "
               f"deliveries, queue on {where}", err=True)
    logging.getLogger("huey").setLevel(logging.INFO)
    queue.consumer(workers, threads).run()


COMMANDS = (db_group, create_tenant, create_user, create_team, create_token, rotate_keys,
            demo_command, serve, worker_command)


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
