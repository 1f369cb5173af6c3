"""Syncs through the real queue and a real worker process.

``integration-hub worker`` runs as its own process on the test database, with the queue on
SQLite storage (one machine) or on Redis (several machines); the hub enqueues from this
process and the run must finish in the worker. A last test runs ``integration-hub serve``,
as the quick start does, and syncs through it: the worker it starts does the job.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from integration_hub import create_app
from integration_hub.db.session import transaction
from integration_hub.dev import demo
from integration_hub.dev.stand_ins import DEMO_PRODUCTS
from integration_hub.identity import directory as identity
from integration_hub.identity import tokens
from integration_hub.queue import job_queue
from tests.conftest import REPO_ROOT, missing_component
from tests.e2e.test_refresh_across_processes import free_port, http_session
from tests.secret_watch import WatchedClient
from tests.support.workers import WORKER

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WAIT = 30.0
LISTING = {"model": "contacts", "path": "/contacts", "itemsPath": "data",
           "pagination": {"style": "cursor", "cursorPath": "next"}}


def _hub_env(settings, instance_path: Path, queue_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key,
            "HUB_ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
            "HUB_INSTANCE_PATH": str(instance_path), "HUB_ENV": "development",
            "HUB_QUEUE_URL": queue_url, "HUB_LOG_LEVEL": "WARNING"}


@contextmanager
def worker_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with open(log, "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "integration_hub", "worker"],
                                   cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=output)
    try:
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _redis_queue_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as problem:
        missing_component(f"Redis is not reachable at {REDIS_URL}: {problem}")
    return f"{REDIS_URL}?queue=ihub-test-{WORKER}-{uuid.uuid4().hex[:8]}"


def wait_for_run(read, deadline: float = WAIT) -> dict:
    """Poll the run until it finished (succeeded or failed)."""
    end = time.monotonic() + deadline
    while True:
        run = read()
        if run["status"] in ("succeeded", "failed") or time.monotonic() > end:
            return run
        time.sleep(0.1)


@pytest.mark.parametrize("queue", ["sqlite", "redis"])
def test_a_worker_process_runs_the_sync_the_hub_queued(app, admin, member, upstream,
                                                       make_integration, tmp_path, queue):
    queue_url = f"sqlite:///{tmp_path / 'queue.db'}" if queue == "sqlite" else _redis_queue_url()
    settings = dataclasses.replace(app.config["HUB_SETTINGS"], queue_url=queue_url)
    hub = create_app(settings)
    hub.test_client_class = WatchedClient
    client = hub.test_client()
    integration = make_integration("Contacts", auth_type="apikey", mode="shared",
                                   api_base_uri=f"{upstream.url}/v1", api_key="worker-key-9931",
                                   shares={"mia": 2}, data={"sync": LISTING})
    upstream.respond("/v1/contacts",
                     {"json": {"data": [{"id": 1, "n": "a"}, {"id": 2, "n": "b"}], "next": "p2"}},
                     {"json": {"data": [{"id": 3, "n": "c"}], "next": None}})

    try:
        with worker_process(_hub_env(settings, tmp_path, queue_url), tmp_path / "worker.log"):
            answer = client.post(f"/api/integrations/{integration}/sync", headers=member.headers)
            assert answer.status_code == 202
            run = wait_for_run(lambda: client.get(answer.headers["Location"],
                                                  headers=member.headers).get_json())
        log = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
        assert run["status"] == "succeeded", (run, log)
        assert (run["pages"], run["created"]) == (2, 3)
        assert [r.header("X-API-Key") for r in upstream.requests()] == ["worker-key-9931"] * 2
        stored = client.get(f"/api/integrations/{integration}/records?model=contacts",
                            headers=member.headers).get_json()
        assert sorted(r["id"] for r in stored["_embedded"]["inf:record"]) == ["1", "2", "3"]
        assert job_queue(hub).huey.pending_count() == 0
    finally:
        job_queue(hub).huey.flush()


def test_the_demo_catalog_syncs_from_the_development_listing(app, live_hub, client, run_queue):
    """The quick start's sync: the demo integration pages through the hub's own dev listing."""
    with app.app_context(), transaction() as session:
        demo.seed(session, app.config["HUB_SETTINGS"], live_hub)
        alice = identity.get_user(session, "default", "alice")  # a demo team member
        headers = {"Authorization": f"Bearer {tokens.issue_token(session, alice, 't').plain}"}
    started = client.post("/api/integrations/product-catalog/sync", headers=headers)
    assert started.status_code == 202

    run_queue()

    run = client.get(started.headers["Location"], headers=headers).get_json()
    assert (run["status"], run["pages"], run["created"]) == ("succeeded", 3, len(DEMO_PRODUCTS))
    total = client.post("/api/integrations/product-catalog/store", headers=headers,
                        json={"op": "sum", "model": "products", "fields": ["stock", "price"]})
    assert total.get_json()["sums"]["stock"] == sum(p["stock"] for p in DEMO_PRODUCTS)
    assert total.get_json()["count"] == len(DEMO_PRODUCTS)
    # the demo webhook told the development echo, signed
    run_queue()
    admin = {"Authorization": f"Bearer {demo_admin_token(app)}"}
    hook = client.get("/api/webhooks", headers=admin).get_json()["_embedded"]["inf:webhook"][0]
    deliveries = client.get(hook["_links"]["inf:webhook-deliveries"]["href"],
                            headers=admin).get_json()["_embedded"]["inf:webhook-delivery"]
    completed = [d for d in deliveries if d["event"] == "sync.completed"]
    assert [d["status"] for d in completed] == ["succeeded"]
    assert completed[0]["attempts"][0]["responseStatus"] == 200


def demo_admin_token(app) -> str:
    return (app.config["HUB_SETTINGS"].instance_path / "demo-admin-token").read_text().strip()


def test_serve_starts_a_worker_so_syncs_work_out_of_the_box(upstream, tmp_path):
    """What ``make run`` does, on a fresh SQLite instance: serve answers, syncs complete."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("HUB_") and key not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(HUB_INSTANCE_PATH=str(tmp_path), HUB_ENV="development", HUB_WORKERS="1",
               HUB_ACCESS_LOG=str(tmp_path / "access.log"), HUB_LOG_LEVEL="WARNING",
               GUNICORN_CMD_ARGS=_no_control_socket())
    hub = [sys.executable, "-m", "integration_hub"]

    def run(*args: str) -> str:
        done = subprocess.run([*hub, *args], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""

    run("db", "upgrade")
    run("create-user", "ops", "--superuser")
    token = run("create-token", "ops")
    port = free_port()
    with open(tmp_path / "serve.log", "wb") as output:
        server = subprocess.Popen([*hub, "serve", "--bind", f"127.0.0.1:{port}"], cwd=REPO_ROOT,
                                  env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                                  start_new_session=True)
    base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
    try:
        with http_session() as http:
            _wait_for(http, f"{base}/api", server, tmp_path / "serve.log")
            created = http.post(f"{base}/api/integrations", headers=headers, json={
                "name": "Contacts", "type": "custom", "authType": "none",
                "apiBaseUri": f"{upstream.url}/v1", "data": {"sync": LISTING}}, timeout=10)
            assert created.status_code == 201, created.text
            upstream.respond("/v1/contacts", {"json": {"data": [{"id": "x"}], "next": None}})
            sync = created.json()["_links"]["inf:sync"]["href"]
            started = http.post(f"{base}{sync}", headers=headers, timeout=10)
            assert started.status_code == 202, started.text
            run_status = wait_for_run(lambda: http.get(f"{base}{started.headers['Location']}",
                                                       headers=headers, timeout=10).json())
            assert run_status["status"] == "succeeded", (
                run_status, (tmp_path / "serve.log").read_text(errors="replace")[-3000:])
            assert run_status["created"] == 1
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
            try:
                server.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
    assert server.returncode is not None


def _no_control_socket() -> str:
    from gunicorn.config import KNOWN_SETTINGS

    return ("--no-control-socket"
            if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else "")


def _wait_for(http: requests.Session, url: str, server: subprocess.Popen, log: Path, *,
              wait: float = WAIT, what: str = "serve") -> None:
    """Until ``url`` answers 401 (the hub serves, and asks who calls), or ``server`` (what
    ``what`` started) exits."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"{what} exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if http.get(url, timeout=2).status_code == 401:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"{what} did not answer on {url} within {wait} s:\n{log.read_text()[-3000:]}")
