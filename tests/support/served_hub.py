"""``integration-hub serve`` in production mode, as an operator starts it: a SQLite database
under a test folder, an administrator with an API token, gunicorn with its worker
processes; stopped with SIGTERM to its process group, as systemd or Ctrl-C would."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from cryptography.fernet import Fernet

from tests.conftest import REPO_ROOT
from tests.e2e.test_worker import _no_control_socket, _wait_for
from tests.support.workers import free_port

ADMIN = "ops"


@dataclass
class ServedHub:
    base: str          # http://127.0.0.1:<port>
    token: str         # the administrator's API token
    database: Path     # the SQLite file (unless DATABASE_URL in ``env`` names another)
    log: Path          # gunicorn's and the hub's output


@contextmanager
def production_hub(folder: Path, **env: str) -> Iterator[ServedHub]:
    """The hub served from ``folder``; ``env`` adds or overrides settings."""
    database = folder / "hub.db"
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(("HUB_", "PROMETHEUS_"))
               and key not in ("DATABASE_URL", "SECRET_KEY")}
    environ.update({"HUB_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(48),
                    "HUB_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                    "HUB_INSTANCE_PATH": str(folder), "DATABASE_URL": f"sqlite:///{database}",
                    "HUB_QUEUE_URL": f"sqlite:///{folder / 'q.db'}", "HUB_WORKERS": "2",
                    "HUB_THREADS": "4", "GUNICORN_CMD_ARGS": _no_control_socket(), **env})
    hub = [sys.executable, "-m", "integration_hub"]
    for command in (["db", "upgrade"], ["create-user", ADMIN, "--superuser"]):
        subprocess.run([*hub, *command], cwd=REPO_ROOT, env=environ, check=True,
                       capture_output=True)
    token = subprocess.run([*hub, "create-token", ADMIN], cwd=REPO_ROOT, env=environ,
                           check=True, capture_output=True, text=True).stdout.split()[-1]
    port, log = free_port(), folder / "serve.log"
    with open(log, "wb") as output:
        server = subprocess.Popen([*hub, "serve", "--no-worker", "--bind", f"127.0.0.1:{port}"],
                                  cwd=REPO_ROOT, env=environ, stdin=subprocess.DEVNULL,
                                  stdout=output, stderr=output, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        with requests.Session() as http:
            http.trust_env = False
            _wait_for(http, f"{base}/api", server, log)  # 401 once it serves
        yield ServedHub(base, token, database, log)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=40)
