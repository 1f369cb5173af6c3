"""Single-flight token refresh across processes: gunicorn with two workers on PostgreSQL.

Twenty requests for the connected account (``?refresh=true``) arrive at once while the access
token is expired; the authorization server answers the refresh slowly. Exactly one refresh may
reach it, and every request must then use the one new access token, whichever worker served it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.support.workers import free_port

WSGI_APP = "wsgi:app"
BURST = 20
ATTEMPTS = 3  # bursts until both workers served some of the requests
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0
TOKEN_DELAY_MS = 700
ACCESS_LINE = re.compile(r"^pid=<?(\d+)>? (\S+) (\S+) (\d{3})$")


def _gunicorn_extra_args() -> list[str]:
    """gunicorn >= 27 opens a control socket in ~/.gunicorn: not for a test server."""
    from gunicorn.config import KNOWN_SETTINGS

    return (["--no-control-socket"]
            if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else [])


def http_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only, never through a proxy
    return session


@dataclass
class Gunicorn:
    url: str
    process: subprocess.Popen
    access_log: Path
    error_log: Path

    def access_lines(self) -> list[tuple[int, str, str, int]]:
        """(pid, method, path, status) of every request served so far."""
        if not self.access_log.exists():
            return []
        lines = []
        for line in self.access_log.read_text(errors="replace").splitlines():
            found = ACCESS_LINE.match(line.strip())
            if found:
                lines.append((int(found[1]), found[2], found[3], int(found[4])))
        return lines

    def served_by(self, path: str, skip: int, expected: int) -> list[int]:
        """Worker pids of the GET ``path`` lines after the first ``skip`` lines; waits (5 s at
        most) for ``expected`` of them, as a line is written just after its answer is sent."""
        deadline = time.monotonic() + 5
        while True:
            pids = [pid for pid, method, logged, _ in self.access_lines()[skip:]
                    if method == "GET" and logged == path]
            if len(pids) >= expected or time.monotonic() > deadline:
                return pids
            time.sleep(0.05)

    def log(self) -> str:
        return self.error_log.read_text(errors="replace")[-4000:]


@contextmanager
def gunicorn(settings, instance_path: Path, workers: int = 2, **overrides: str) -> Iterator[Gunicorn]:
    """``gunicorn wsgi:app`` (``workers`` gthread workers) on the test database, once every
    worker has answered; stopped afterwards. ``overrides`` add or replace settings."""
    port = free_port()
    access_log = instance_path / "access.log"
    error_log = instance_path / "gunicorn.log"
    env = {**os.environ, "DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key,
           "HUB_ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
           "HUB_INSTANCE_PATH": str(instance_path), "HUB_ENV": "development", **overrides}
    with open(error_log, "wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "gthread",
             "--threads", "10", "--bind", f"127.0.0.1:{port}",
             "--access-logfile", str(access_log),
             "--access-logformat", "pid=%(p)s %(m)s %(U)s %(s)s",
             "--error-logfile", "-", *_gunicorn_extra_args(), WSGI_APP],
            cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=errors, stderr=errors)
    server = Gunicorn(f"http://127.0.0.1:{port}", process, access_log, error_log)
    try:
        _wait_until_every_worker_serves(server, workers)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_until_every_worker_serves(server: Gunicorn, workers: int) -> None:
    """Until GET /api/openapi.json answers, and every worker has answered it (warm-up)."""
    def probe(_):
        with http_session() as http:
            try:
                return http.get(f"{server.url}/api/openapi.json", timeout=5).status_code
            except requests.RequestException:
                return None

    deadline = time.monotonic() + START_TIMEOUT
    with ThreadPoolExecutor(max_workers=8) as pool:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {server.process.returncode}:\n{server.log()}")
            statuses = list(pool.map(probe, range(8)))
            pids = {pid for pid, _, path, status in server.access_lines()
                    if path == "/api/openapi.json" and status == 200}
            if 200 in statuses and len(pids) >= workers:
                return
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not serve /api/openapi.json from {workers} workers within "
                f"{START_TIMEOUT:.0f} s:\n{server.log()}")


def connect_expired(base: str, caller, integration_id: str) -> None:
    """A connection whose access token has expired (expiresIn 0) and which can be refreshed."""
    with http_session() as http:
        answer = http.post(f"{base}/api/integrations/{integration_id}/connect",
                           headers=caller.headers, timeout=REQUEST_TIMEOUT,
                           json={"accessToken": "old-access", "refreshToken": "old-refresh",
                                 "expiresIn": 0})
    assert answer.status_code == 201, answer.text


def burst(base: str, caller, integration_id: str) -> list[requests.Response | Exception]:
    """BURST simultaneous GET .../account?refresh=true, each on its own connection."""
    url = f"{base}/api/integrations/{integration_id}/account?refresh=true"
    start = threading.Barrier(BURST)

    def one(_):
        with http_session() as http:
            try:
                start.wait(timeout=REQUEST_TIMEOUT)
                return http.get(url, headers=caller.headers, timeout=REQUEST_TIMEOUT)
            except (requests.RequestException, threading.BrokenBarrierError) as exc:
                return exc

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        return list(pool.map(one, range(BURST)))


@pytest.fixture(scope="session", params=["postgresql"])
def backend(request) -> str:
    """Several processes sharing one database is the PostgreSQL deployment: this module
    runs on PostgreSQL only (SQLite's single-flight is covered by the in-process tests)."""
    return request.param


def test_one_refresh_for_twenty_requests_in_two_processes(
        backend, migrated_app, app, make_caller, oauth_integration, oauth_server, tmp_path):
    caller = make_caller("ada")
    integration_id = oauth_integration("Test Provider", shares={"ada": 1})
    account_path = f"/api/integrations/{integration_id}/account"

    with gunicorn(migrated_app.config["HUB_SETTINGS"], tmp_path) as server:
        pids_seen: list[set[int]] = []
        for _attempt in range(ATTEMPTS):
            connect_expired(server.url, caller, integration_id)
            oauth_server.reset()  # forget the connect's /userinfo call
            oauth_server.queue_token_responses({"delayMs": TOKEN_DELAY_MS})
            served_before = len(server.access_lines())

            answers = burst(server.url, caller, integration_id)

            problems = [a if isinstance(a, Exception) else f"{a.status_code} {a.text[:300]}"
                        for a in answers if isinstance(a, Exception) or a.status_code != 200]
            assert not problems, f"not every request succeeded:\n{problems}\n{server.log()}"
            assert all(a.json()["email"] == "ada@example.com" for a in answers)

            tokens = oauth_server.requests("/token")
            grants = [{k: (t["form"] or {}).get(k) for k in ("grant_type", "refresh_token")}
                      for t in tokens]  # not the whole form: it holds the client secret
            assert len(tokens) == 1, (f"{len(tokens)} refresh requests reached the token "
                                      f"endpoint, expected exactly 1: {grants}")
            form = tokens[0]["form"] or {}
            assert form.get("grant_type") == "refresh_token"
            assert form.get("refresh_token") == "old-refresh"

            userinfo = oauth_server.requests("/userinfo")
            assert len(userinfo) == BURST, f"{len(userinfo)} /userinfo calls for {BURST} requests"
            bearers = {u["headers"].get("authorization") for u in userinfo}
            assert len(bearers) == 1, f"the requests used {len(bearers)} different access tokens"
            (bearer,) = bearers
            assert bearer and bearer.startswith("Bearer ")
            assert bearer != "Bearer old-access", "the account was read with the expired token"

            served = server.served_by(account_path, served_before, BURST)
            assert len(served) == BURST, f"the access log shows {len(served)} account requests"
            pids_seen.append(set(served))
            if len(set(served)) > 1:
                break
        assert len(pids_seen[-1]) > 1, (
            f"in {len(pids_seen)} bursts every request was served by one worker: {pids_seen}")

        with http_session() as http:
            stored = http.get(f"{server.url}/api/integrations/{integration_id}/connection",
                              headers=caller.headers, timeout=REQUEST_TIMEOUT)
    assert stored.status_code == 200, stored.text
    connection = stored.json()
    assert connection["status"] == "active"
    assert connection["lastRefreshedAt"]
    assert connection["lastError"] is None
