"""The request log of a real gunicorn: rows wait in each process's buffer and are all
written when the processes stop, so a graceful restart loses no proxied call."""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import subprocess
import sys

import requests
from cryptography.fernet import Fernet

from tests.conftest import REPO_ROOT
from tests.e2e.test_refresh_across_processes import free_port
from tests.e2e.test_worker import _no_control_socket, _wait_for

CALLS = 12


def _proxy_rows(database) -> list[tuple[str, int]]:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT path, status FROM proxy_requests").fetchall()


def test_buffered_rows_are_written_when_gunicorn_stops(tmp_path, upstream):
    database = tmp_path / "hub.db"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("HUB_", "PROMETHEUS_")) and key not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(HUB_ENV="production", SECRET_KEY=secrets.token_urlsafe(48),
               HUB_ENCRYPTION_KEYS=Fernet.generate_key().decode(), HUB_INSTANCE_PATH=str(tmp_path),
               DATABASE_URL=f"sqlite:///{database}", HUB_QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}",
               HUB_WORKERS="2", HUB_THREADS="4", GUNICORN_CMD_ARGS=_no_control_socket(),
               HUB_REQUEST_LOG_FLUSH="3600")  # only the exit can write them
    hub = [sys.executable, "-m", "integration_hub"]
    for command in (["db", "upgrade"], ["create-user", "ops", "--superuser"]):
        subprocess.run([*hub, *command], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    token = subprocess.run([*hub, "create-token", "ops"], cwd=REPO_ROOT, env=env, check=True,
                           capture_output=True, text=True).stdout.strip().splitlines()[-1]
    auth = {"Authorization": f"Bearer {token}"}
    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "wb") as output:
        server = subprocess.Popen([*hub, "serve", "--no-worker", "--bind", f"127.0.0.1:{port}"],
                                  cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                  stderr=output, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        with requests.Session() as http:
            http.trust_env = False
            _wait_for(http, f"{base}/api", server, log)
            created = http.post(f"{base}/api/integrations", headers=auth, timeout=10, json={
                "name": "Recorded", "type": "custom", "authType": "apikey",
                "apiBaseUri": f"{upstream.url}/v1", "apiKey": "shared-key-41"})
            assert created.status_code == 201, created.text
            integration = created.json()["id"]
        for n in range(CALLS):  # a connection each: both processes take some
            answer = requests.get(f"{base}/api/integrations/{integration}/request/items/{n}",
                                  headers={**auth, "Connection": "close"}, timeout=10)
            assert answer.status_code == 200, answer.text
        assert len(upstream.requests()) == CALLS
        assert _proxy_rows(database) == []  # still in the processes' buffers
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=40)

    rows = _proxy_rows(database)
    assert sorted(rows) == sorted((f"/v1/items/{n}", 200) for n in range(CALLS)), \
        log.read_text()[-3000:]
