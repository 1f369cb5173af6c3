"""What every benchmark needs: a hub instance on a fresh database, gunicorn, an nginx
upstream, the load generator (wrk) and a plain report.

Everything runs on loopback on this machine; each script measures its baseline in the
same run, so the ratios it prints compare like with like.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get("HUB_BENCH_POSTGRES_URL",
                                    "postgresql://postgres@127.0.0.1:5432/postgres")
START_TIMEOUT = 60.0
WORKERS = int(os.environ.get("HUB_BENCH_WORKERS", "2"))
THREADS = int(os.environ.get("HUB_BENCH_THREADS", "8"))


def need(command: str, package: str) -> str:
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin")
    if found is None:
        sys.exit(f"{command} is missing: apt-get install {package} (make bench installs it as root)")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only, never through a proxy
    return session


def wait_until_answering(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with http() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                sys.exit(f"{url} exited with {process.returncode}:\n{tail(log)}")
            try:
                client.get(url, timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.1)
    sys.exit(f"{url} did not answer within {START_TIMEOUT:.0f} s:\n{tail(log)}")


def tail(path: Path, size: int = 3000) -> str:
    return path.read_text(errors="replace")[-size:] if path.exists() else ""


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# -- databases ------------------------------------------------------------------------------

@contextlib.contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    """A fresh, empty hub database: a file under ``folder`` or a new PostgreSQL database."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'hub.db'}"
        return
    import psycopg

    name = f"hub_bench_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_rows(connection, table, rows: list[dict]) -> None:
    """Rows in bulk, in the shape the app writes: COPY FROM STDIN on PostgreSQL (ten times
    faster than batched INSERTs), SQLAlchemy Core inserts on SQLite."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, \
            cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(value) if isinstance(value, dict) else value
                            for value in (row[column] for column in columns)])


# -- the hub --------------------------------------------------------------------------------

@dataclass
class Hub:
    """A hub instance in production mode: its folder, settings and command line."""

    folder: Path
    database_url: str

    @property
    def env(self) -> dict[str, str]:
        from cryptography.fernet import Fernet

        keys = self.folder / "keys"
        if not keys.exists():
            keys.write_text(f"{secrets.token_urlsafe(48)}\n{Fernet.generate_key().decode()}\n")
        secret_key, encryption_key = keys.read_text().split()
        return {**os.environ, "HUB_ENV": "production", "DATABASE_URL": self.database_url,
                "SECRET_KEY": secret_key, "HUB_ENCRYPTION_KEYS": encryption_key,
                "HUB_INSTANCE_PATH": str(self.folder),
                "HUB_QUEUE_URL": f"sqlite:///{self.folder / 'queue.db'}"}

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "integration_hub", *args], cwd=REPO,
                              env=self.env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"integration-hub {' '.join(args[:1])} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def app(self):
        """The hub's Flask app in this process, on the instance's database."""
        from integration_hub import create_app
        from integration_hub.config import Settings

        return create_app(Settings.from_env(self.env))


@contextlib.contextmanager
def hub_instance(backend: str) -> Iterator[Hub]:
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as folder, \
            database(backend, Path(folder)) as url:
        hub = Hub(Path(folder), url)
        hub.cli("db", "upgrade")
        yield hub


@contextlib.contextmanager
def gunicorn(app: str, env: dict[str, str], log: Path, workers: int = WORKERS,
             threads: int = THREADS, ready_path: str = "/healthz") -> Iterator[str]:
    """``gunicorn -c gunicorn.conf.py <app>``: the hub's own settings, for the hub and the
    baselines alike; yields the base URL once it answers."""
    with gunicorn_process(app, env, log, workers, threads, ready_path) as (url, _):
        yield url


@contextlib.contextmanager
def gunicorn_process(app: str, env: dict[str, str], log: Path, workers: int = WORKERS,
                     threads: int = THREADS, ready_path: str = "/healthz",
                     ) -> Iterator[tuple[str, subprocess.Popen]]:
    """Like ``gunicorn``, but yields (base URL, the gunicorn master process), for a
    benchmark that watches the processes themselves (memory)."""
    port = free_port()
    env = {**env, "HUB_BIND": f"127.0.0.1:{port}", "HUB_WORKERS": str(workers),
           "HUB_THREADS": str(threads)}
    env.pop("HUB_ACCESS_LOG", None)
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app], cwd=REPO, env=env,
            stdin=subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(url + ready_path, process, log)
        yield url, process
    finally:
        stop(process)


def process_tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (from /proc)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            pending.extend(int(child) for child in children)
    return total


# -- the upstream ---------------------------------------------------------------------------

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        default_type application/json;
        # What the proxy added, echoed back, so a run can check it measured the full path.
        location /v1/echo {{
            return 200 '{{"email":"$http_x_user_email","tenant":"$http_x_tenant","key":"$http_x_api_key"}}';
        }}
        location /files/ {{ root {folder}; default_type application/octet-stream; sendfile on; }}
    }}
}}
"""


@contextlib.contextmanager
def nginx_upstream(folder: Path) -> Iterator[str]:
    """A real, fast upstream: one nginx worker answering ``/v1/echo`` and serving
    ``/files/`` from ``folder / "files"``."""
    nginx = need("nginx", "nginx")
    folder.chmod(0o755)  # nginx's worker may run as another user
    (folder / "files").mkdir(exist_ok=True)
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_CONF.format(folder=folder, port=port))
    log = folder / "nginx-error.log"
    process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(folder)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(url + "/v1/echo", process, log)
        yield url
    finally:
        stop(process)


# -- load -----------------------------------------------------------------------------------

@dataclass
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int
    rates: tuple[float, ...] = ()  # every run's requests/s, when this is their median

    @property
    def spread(self) -> str:
        rates = self.rates or (self.requests_per_second,)
        return f"{min(rates):,.0f}-{max(rates):,.0f}"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"wrk printed a latency of {text!r}")
    number, unit = found.groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, connections: int, seconds: float, headers: Sequence[str] = ()) -> Load:
    """``wrk`` against ``url``: keep-alive connections, each sending its next request as
    soon as the last is answered."""
    command = [need("wrk", "wrk"), "--latency", f"-t{min(connections, 2)}", f"-c{connections}",
               f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    for header in headers:
        command += ["-H", header]
    done = subprocess.run([*command, url], capture_output=True, text=True, check=False)
    output = done.stdout
    if done.returncode != 0 or "Requests/sec" not in output:
        sys.exit(f"wrk failed against {url}:\n{output}{done.stderr}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M)[1])
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M)[1])
    total = int(re.search(r"(\d+) requests in", output)[1])
    failed = int((re.search(r"Non-2xx or 3xx responses: (\d+)", output) or [0, 0])[1])
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)
    if errors:
        failed += sum(int(n) for n in errors.groups())
    return Load(rate, p50, p99, total, failed)


def median_load(loads: Sequence[Load]) -> Load:
    """Medians over several runs of one target (throughput, p50 and p99 each on its own),
    with every run's throughput kept for the range and every run's failures summed."""
    return Load(statistics.median(load.requests_per_second for load in loads),
                statistics.median(load.p50_ms for load in loads),
                statistics.median(load.p99_ms for load in loads),
                sum(load.requests for load in loads), sum(load.failures for load in loads),
                tuple(load.requests_per_second for load in loads))


# -- output ---------------------------------------------------------------------------------

def heading(title: str) -> None:
    print(f"\n== {title}", flush=True)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [list(map(str, header))] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for number, row in enumerate(cells):
        print("  " + "  ".join(c.rjust(w) if i else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if number == 0:
            print("  " + "  ".join("-" * w for w in widths))
    sys.stdout.flush()


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def verdict(what: str, measured: str, target: str, met: bool) -> None:
    print(f"  {'MET ' if met else 'MISS'}  {what}: {measured} (target {target})", flush=True)


def warn_of_failures(loads: Iterable[Load]) -> None:
    """A line saying the figures are void when any timed call failed."""
    failures = sum(load.failures for load in loads)
    if failures:
        print(f"  {failures} calls failed: the figures above are not valid", flush=True)
