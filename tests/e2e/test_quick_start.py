"""The quick start on another port while something else holds 127.0.0.1:8000.

``make run`` is run for real (the committed Makefile, ``integration-hub db upgrade``, ``demo``
and ``serve`` with gunicorn and its queue worker) on a fresh instance folder. Its virtual
environment is a stand-in whose ``integration-hub`` is this interpreter running this
checkout, so make installs nothing. Port 8000 is held by a listener of the test that counts
every connection: whatever the demo sends to the default port lands there.

Without a port, ``make run`` stops before doing anything and says that 8000 is in use and how
to pick another. With ``PORT``, every address it prints is on that port, the printed ``curl``
lines work as pasted, and what the demo seeded (the integrations' addresses, the Connect
button's provider, the webhook) is served by that hub: nothing reaches port 8000.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from integration_hub.dev.stand_ins import DEMO_PRODUCTS
from tests.conftest import REPO_ROOT, missing_component
from tests.e2e.test_refresh_across_processes import free_port, http_session
from tests.e2e.test_worker import _no_control_socket, _wait_for
from tests.support.listener import Listener

DEFAULT_PORT = 8000
WAIT = 60.0  # seconds: the longest any step may take (a failure, never a measure)
DEMO_SLUGS = ("demo-provider", "inventory-api", "product-catalog")
URL_FIELDS = ("authUri", "tokenUri", "userInfoUri", "revocationUri", "apiBaseUri")


@pytest.fixture
def default_port_taken():
    """A listener of ours on 127.0.0.1:8000, counting what connects to it."""
    try:
        listener = Listener(port=DEFAULT_PORT)
    except OSError as taken:
        missing_component(f"port {DEFAULT_PORT} is held by another program ({taken}); this "
                          "test holds it itself to see what reaches it")
    yield listener
    listener.stop()


@pytest.fixture
def venv(tmp_path) -> Path:
    """A stand-in for ``.venv``: its ``integration-hub`` runs this checkout with this
    interpreter; its install stamp is newer than setup.cfg, so make installs nothing."""
    folder = tmp_path / "venv"
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "python").symlink_to(sys.executable)
    command = folder / "bin" / "integration-hub"
    command.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m integration_hub "$@"\n')
    command.chmod(0o755)
    (folder / ".installed").touch()
    return folder


def _environment(instance: Path) -> dict[str, str]:
    """The machine's environment without any hub setting, on a fresh instance folder."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("HUB_", "PROMETHEUS_", "MAKE", "GUNICORN_"))
           and key not in ("DATABASE_URL", "SECRET_KEY", "PORT", "MFLAGS")}
    env.update(HUB_INSTANCE_PATH=str(instance), HUB_WORKERS="1", HUB_LOG_LEVEL="WARNING",
               GUNICORN_CMD_ARGS=_no_control_socket())
    return env


def _make_run(venv: Path, *variables: str) -> list[str]:
    return ["make", "--no-print-directory", "-C", str(REPO_ROOT), "run", f"VENV={venv}",
            *variables]


def test_make_run_without_a_port_says_8000_is_taken_and_how_to_pick_another(
        default_port_taken, venv, tmp_path):
    done = subprocess.run(_make_run(venv),
                          env=_environment(tmp_path / "instance"), capture_output=True,
                          text=True, timeout=WAIT, stdin=subprocess.DEVNULL)
    said = done.stdout + done.stderr
    assert done.returncode != 0, said
    assert f"127.0.0.1:{DEFAULT_PORT} is already in use" in said, said
    assert "make run PORT=" in said, said
    assert "Demo data ready" not in said, "nothing is seeded for an address it cannot serve"
    assert default_port_taken.accepted() == 0


def test_make_run_on_another_port_serves_everything_the_demo_prints(
        default_port_taken, venv, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _environment(tmp_path / "instance")
    log = tmp_path / "make-run.log"
    with open(log, "wb") as output:
        served = subprocess.Popen(_make_run(venv, f"PORT={port}"), env=env,
                                  stdin=subprocess.DEVNULL, stdout=output,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with http_session() as http:
            printed = _instructions(log, served)
            _wait_for(http, f"{base}/api", served, log, wait=WAIT, what="make run")
            _check_the_quick_start(http, base, printed, tmp_path)
        assert default_port_taken.accepted() == 0, default_port_taken.received
    finally:
        _stop(served)


def _check_the_quick_start(http: requests.Session, base: str, printed: str,
                           tmp_path: Path) -> None:
    addresses = re.findall(r"https?://[^\s'\"]+", printed)
    assert addresses and all(a.startswith(f"{base}/") for a in addresses), printed
    token = re.search(r"API token:\s+(\S+)", printed).group(1)
    password = re.search(r"as admin / (\S+)", printed).group(1)
    headers = {"Authorization": f"Bearer {token}"}

    # Every curl line, as pasted.
    lines = [line.strip() for line in printed.splitlines() if line.strip().startswith("curl ")]
    assert len(lines) >= 5, printed
    for line in lines:
        status = _curl(line, tmp_path / "body")
        assert 200 <= status < 300, (line, status, (tmp_path / "body").read_text())

    # The sync the curl line started fetched the listing of this hub.
    total = _eventually(lambda: http.post(
        f"{base}/api/integrations/product-catalog/store", headers=headers, timeout=10,
        json={"op": "sum", "model": "products", "fields": ["stock"]}).json(),
        lambda answer: answer.get("count") == len(DEMO_PRODUCTS))
    assert total["sums"]["stock"] == sum(p["stock"] for p in DEMO_PRODUCTS)

    # What the demo seeded points here.
    for slug in DEMO_SLUGS:
        integration = http.get(f"{base}/api/integrations/{slug}", headers=headers,
                               timeout=10).json()
        urls = [integration[field] for field in URL_FIELDS if integration.get(field)]
        assert urls and all(url.startswith(f"{base}/") for url in urls), (slug, urls)
    hooks = http.get(f"{base}/api/webhooks", headers=headers,
                     timeout=10).json()["_embedded"]["inf:webhook"]
    assert [hook["url"] for hook in hooks] == [f"{base}/dev/echo/webhooks"]

    # A proxied call reaches this hub's echo, with the demo's key.
    echoed = http.get(f"{base}/api/integrations/inventory-api/request/items/42",
                      headers=headers, timeout=10)
    assert echoed.status_code == 200, echoed.text
    assert echoed.json()["path"] == "/inventory/v2/items/42", echoed.json()
    assert "x-api-key" in {name.lower() for name in echoed.json()["headers"]}

    # The Connect button: a signed-in browser goes to this hub's demo provider.
    with http_session() as browser:
        signed_in = browser.post(f"{base}/api/login", timeout=10,
                                 json={"username": "alice", "password": password})
        assert signed_in.status_code == 200, signed_in.text
        connect = browser.get(f"{base}/api/integrations/demo-provider/connect",
                              params={"returnTo": "/"}, allow_redirects=False, timeout=10)
        assert connect.status_code == 302, connect.text
        assert connect.headers["Location"].startswith(f"{base}/dev/oauth/authorize?")
        assert browser.get(connect.headers["Location"], timeout=10).status_code == 200

    # Events went to this hub's echo, and were taken.
    deliveries = hooks[0]["_links"]["inf:webhook-deliveries"]["href"]
    delivered = _eventually(lambda: http.get(f"{base}{deliveries}", headers=headers,
                                             timeout=10).json(),
                            lambda answer: any(d["status"] == "succeeded" for d in
                                               answer["_embedded"]["inf:webhook-delivery"]))
    statuses = [d["status"] for d in delivered["_embedded"]["inf:webhook-delivery"]]
    assert "failed" not in statuses, statuses


def _curl(line: str, body: Path) -> int:
    """Runs a printed curl line as a shell would; answers the HTTP status."""
    words = shlex.split(line, comments=True)
    done = subprocess.run([*words, "-sS", "-o", str(body), "-w", "%{http_code}"],
                          capture_output=True, text=True, timeout=WAIT,
                          env={**os.environ, "no_proxy": "*"})
    assert done.returncode == 0, (line, done.stderr)
    return int(done.stdout)


def _instructions(log: Path, served: subprocess.Popen) -> str:
    """What ``make run`` printed from "Demo data ready." to the blank line after the tries."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        start = text.find("Demo data ready.")
        if start >= 0 and "\n\n" in text[text.find("Try:", start):]:
            return text[start:text.find("\n\n", text.find("Try:", start))]
        if served.poll() is not None:
            pytest.fail(f"make run exited with {served.returncode}:\n{text[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"make run printed no instructions within {WAIT} s:\n{log.read_text()[-3000:]}")


def _eventually(read, done):
    """``read()`` until ``done`` holds for its answer (bounded by WAIT); the last answer."""
    deadline = time.monotonic() + WAIT
    while True:
        answer = read()
        if done(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def _stop(served: subprocess.Popen) -> None:
    """Ctrl-C in the terminal: make, the hub and its worker stop together."""
    if served.poll() is None:
        os.killpg(served.pid, signal.SIGINT)
        try:
            served.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(served.pid, signal.SIGKILL)
            served.wait(timeout=10)
