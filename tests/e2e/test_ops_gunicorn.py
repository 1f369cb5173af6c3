"""Metrics and logs of a real gunicorn with several worker processes, in production
mode: a scrape adds up every process's counts whichever process answers it, and the
log lines are JSON carrying the request id."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import requests
from cryptography.fernet import Fernet

from tests.conftest import REPO_ROOT
from tests.e2e.test_refresh_across_processes import free_port
from tests.e2e.test_worker import _no_control_socket, _wait_for
from tests.support.prometheus import sample

METRICS_TOKEN = "gunicorn-metrics-token-5512"
CALLS = 48


def test_metrics_add_up_over_worker_processes_and_logs_are_json(tmp_path):
    metrics_dir = tmp_path / "metrics"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("HUB_", "PROMETHEUS_")) and key not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(HUB_ENV="production", SECRET_KEY=secrets.token_urlsafe(48),
               HUB_ENCRYPTION_KEYS=Fernet.generate_key().decode(), HUB_INSTANCE_PATH=str(tmp_path),
               DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}",
               HUB_QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}",
               HUB_WORKERS="2", HUB_THREADS="4", HUB_METRICS_TOKEN=METRICS_TOKEN,
               HUB_ACCESS_LOG=str(tmp_path / "access.log"), PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
               GUNICORN_CMD_ARGS=_no_control_socket())
    hub = [sys.executable, "-m", "integration_hub"]
    for command in (["db", "upgrade"], ["create-user", "ops", "--superuser"]):
        subprocess.run([*hub, *command], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    token = subprocess.run([*hub, "create-token", "ops"], cwd=REPO_ROOT, env=env, check=True,
                           capture_output=True, text=True).stdout.strip().splitlines()[-1]
    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "wb") as output:
        server = subprocess.Popen([*hub, "serve", "--no-worker", "--bind", f"127.0.0.1:{port}"],
                                  cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                  stderr=output, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        with requests.Session() as http:
            http.trust_env = False
            _wait_for(http, f"{base}/api", server, log)  # 401 once it serves

        def call(n: int) -> requests.Response:  # a connection each: any process may take it
            return requests.get(f"{base}/api", headers={
                "Authorization": f"Bearer {token}", "X-Request-ID": f"call-{n}",
                "Connection": "close"}, timeout=10)

        def served_by() -> set[str]:
            return {path.stem.split("_")[-1] for path in metrics_dir.glob("counter_*.db")}

        # Which process takes a connection is up to the kernel: call in rounds until both
        # processes have answered some (on a busy machine one may take a whole round).
        calls = 0
        while calls < CALLS or (len(served_by()) < 2 and calls < 10 * CALLS):
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(call, range(calls, calls + CALLS)))
            assert [a.status_code for a in answers] == [200] * CALLS
            assert [a.headers["X-Request-ID"] for a in answers] == [
                f"call-{n}" for n in range(calls, calls + CALLS)]
            calls += CALLS
        processes = served_by()

        scrapes = [requests.get(f"{base}/metrics", timeout=10, headers={
            "Authorization": f"Bearer {METRICS_TOKEN}", "Connection": "close"}).text
            for _ in range(6)]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=40)

    assert len(processes) == 2, "both worker processes answered calls"
    assert not metrics_dir.exists(), "gunicorn removes its metrics directory when it exits"
    for text in scrapes:  # every scrape, whichever process answered it, sees all calls
        assert sample(text, "hub_http_requests_total", route="/api", method="GET",
                      status="200") == calls
    lines = [json.loads(line) for line in log.read_text().splitlines()
             if line.startswith("{") and '"integration_hub.requests"' in line]
    logged = [line for line in lines if line["request_id"].startswith("call-")]
    assert {line["request_id"] for line in logged} == {f"call-{n}" for n in range(calls)}
    assert all((line["level"], line["path"], line["status"]) == ("INFO", "/api", 200)
               for line in logged)
