"""The production layout for tests: N hub instances (real gunicorn) behind a real nginx.

``hub_instances(settings, root, count)`` starts ``integration-hub serve --no-worker`` N times on
one database, each with its own instance folder and gunicorn access log (so a test can tell
which instance served a request), and stops them afterwards. ``nginx_in_front(upstreams, root)``
runs nginx with the committed site ``deploy/nginx/integration-hub.conf``: its upstream block
(with the test's server lines) and its location block, verbatim, in a plain-HTTP server on
127.0.0.1 -- so what the deployment guide tells operators to install is what the tests run.
``check_site_syntax(root)`` runs ``nginx -t`` on the whole committed file (TLS included, with a
throwaway self-signed certificate).
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.conftest import REPO_ROOT, missing_component
from tests.e2e.test_refresh_across_processes import http_session
from tests.support.workers import free_port

SITE = REPO_ROOT / "deploy" / "nginx" / "integration-hub.conf"
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
PREFIX = "/hub"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
LOG_WAIT = 5.0
# gunicorn's default access log format: ... "%(r)s" %(s)s ...
ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3}) ')
# The certificate placeholders of the committed site, replaced for `nginx -t`.
SITE_CERT = "/etc/ssl/certs/hub.example.org.pem"
SITE_KEY = "/etc/ssl/private/hub.example.org.key"
UNITS = REPO_ROOT / "deploy" / "systemd"
UNIT_EXECUTABLE = "/opt/integration-hub/venv/bin/integration-hub"
METRICS_TOKEN = "deployment-test-metrics-token"


# -- hub instances ------------------------------------------------------------------------------
@dataclass
class HubInstance:
    name: str
    url: str  # http://127.0.0.1:<port>, direct (not through nginx)
    address: str  # 127.0.0.1:<port>
    process: subprocess.Popen
    instance_path: Path
    access_log: Path
    output_log: Path

    def served(self) -> list[tuple[str, str, int]]:
        """(method, raw target, status) of every request this instance answered so far."""
        if not self.access_log.exists():
            return []
        found = (ACCESS_LINE.search(line) for line in
                 self.access_log.read_text(errors="replace").splitlines())
        return [(m["method"], m["target"], int(m["status"])) for m in found if m]

    def log(self) -> str:
        return self.output_log.read_text(errors="replace")[-4000:] if self.output_log.exists() else ""


def _gunicorn_cmd_args() -> str:
    """gunicorn >= 27 opens a control socket in ~/.gunicorn: two instances of one user would
    fight over it, and a test server needs none."""
    from gunicorn.config import KNOWN_SETTINGS

    return ("--no-control-socket"
            if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else "")


def hub_env(settings, instance_path: Path, access_log: Path) -> dict[str, str]:
    """The environment of one web instance: the test database and keys, one trusted proxy."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("HUB_", "GUNICORN_"))
           and key not in ("DATABASE_URL", "SECRET_KEY", "PROMETHEUS_MULTIPROC_DIR")}
    env.update({
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        "HUB_ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
        "HUB_INSTANCE_PATH": str(instance_path),
        "HUB_ENV": "development",
        "HUB_TRUSTED_PROXIES": "1",
        "HUB_FORWARDED_ALLOW_IPS": "127.0.0.1",
        "HUB_WORKERS": "1",
        "HUB_THREADS": "4",
        "HUB_QUEUE_URL": f"sqlite:///{instance_path / 'queue.db'}",
        "HUB_ACCESS_LOG": str(access_log),
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_METRICS_TOKEN": METRICS_TOKEN,
        "GUNICORN_CMD_ARGS": _gunicorn_cmd_args(),
    })
    return env


def _start_instance(settings, root: Path, name: str) -> HubInstance:
    instance_path = root / name
    instance_path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    access_log, output_log = instance_path / "access.log", instance_path / "output.log"
    with open(output_log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "integration_hub", "serve", "--no-worker",
             "--bind", f"127.0.0.1:{port}"],
            cwd=REPO_ROOT, env=hub_env(settings, instance_path, access_log),
            stdin=subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True)
    return HubInstance(name, f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", process,
                       instance_path, access_log, output_log)


def _wait_until_answering(instance: HubInstance, deadline: float) -> None:
    """Until GET /api answers 401 (the app is loaded and routing), directly."""
    with http_session() as http:
        while time.monotonic() < deadline:
            if instance.process.poll() is not None:
                raise RuntimeError(f"hub instance {instance.name} exited with "
                                   f"{instance.process.returncode}:\n{instance.log()}")
            try:
                if http.get(f"{instance.url}/api", timeout=2).status_code == 401:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"hub instance {instance.name} did not answer within {START_TIMEOUT:.0f} s:\n"
                       f"{instance.log()}")


def stop_process(process: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, wait, then SIGKILL the whole process group (gunicorn's workers too)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)


@contextmanager
def hub_instances(settings, root: Path, count: int = 2) -> Iterator[list[HubInstance]]:
    """``count`` web instances (``integration-hub serve --no-worker``) on ``settings``' database,
    started at once, each answering before this yields; all stopped afterwards."""
    instances: list[HubInstance] = []
    try:
        for number in range(1, count + 1):
            instances.append(_start_instance(settings, root, f"hub{number}"))
        deadline = time.monotonic() + START_TIMEOUT
        for instance in instances:
            _wait_until_answering(instance, deadline)
        yield instances
    finally:
        for instance in instances:
            if instance.process.poll() is None:
                instance.process.send_signal(signal.SIGTERM)
        for instance in instances:
            stop_process(instance.process)


# -- nginx ----------------------------------------------------------------------------------------
def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return next((path for path in NGINX_CANDIDATES if os.access(path, os.X_OK)), None)


def require_nginx() -> str:
    binary = nginx_binary()
    if binary is None:
        missing_component("nginx is not installed (apt-get install nginx): the deployment tests "
                          "run the committed site deploy/nginx/integration-hub.conf in it")
    return binary


def site_section(name: str, text: str | None = None) -> str:
    """The lines of the committed site between ``# >>> name`` and ``# <<< name``."""
    text = SITE.read_text() if text is None else text
    found = re.search(rf"^[ \t]*# >>> {re.escape(name)}[ \t]*\n(.*?)^[ \t]*# <<< {re.escape(name)}[ \t]*$",
                      text, re.M | re.S)
    if found is None:
        raise AssertionError(f"{SITE} has no '# >>> {name}' ... '# <<< {name}' section")
    return found.group(1)


def upstream_block(addresses: list[str]) -> str:
    """The committed upstream block, its one active ``server`` line repeated per address
    (same parameters: max_fails, fail_timeout)."""
    block = site_section("hub upstream")
    server_line = re.compile(r"^([ \t]*server[ \t]+)(\S+?)((?:[ \t]+[^;\n]*)?;[ \t]*)$", re.M)
    active = server_line.findall(block)
    if len(active) != 1:
        raise AssertionError(f"expected one active server line in the upstream block, got {active}")
    indent, _, rest = active[0]
    replacement = "\n".join(f"{indent}{address}{rest}" for address in addresses)
    return server_line.sub(lambda _: replacement, block, count=1)


def render_test_config(root: Path, listen: str, addresses: list[str]) -> str:
    """A whole nginx.conf: everything in ``root``, the site's upstream and locations in a
    plain-HTTP server on ``listen``. One worker process, so round robin is one sequence."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the temp folders
    temp = "\n".join(f"    {kind}_temp_path {root / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""# rendered by tests/support/deployment.py from {SITE.relative_to(REPO_ROOT)}
{user}worker_processes 1;
events {{
    worker_connections 512;
}}
http {{
    log_format hub '$remote_addr "$request" $status upstream=$upstream_addr';
    access_log {root / 'access.log'} hub;
{temp}

{upstream_block(addresses)}
    server {{
        listen {listen};
        server_name 127.0.0.1;

{site_section("hub locations")}
    }}
}}
"""


@dataclass
class Nginx:
    url: str  # http://127.0.0.1:<port>, the public base is url + "/hub"
    process: subprocess.Popen
    root: Path
    config: Path

    @property
    def error_log(self) -> Path:
        return self.root / "error.log"

    def log(self) -> str:
        parts = [p.read_text(errors="replace")[-3000:] for p in (self.error_log, self.root / "nginx.out")
                 if p.exists()]
        return "\n".join(parts)


def _global_options(root: Path) -> str:
    return f"daemon off; pid {root / 'nginx.pid'}; error_log {root / 'error.log'};"


@contextmanager
def nginx_in_front(addresses: list[str], root: Path) -> Iterator[Nginx]:
    """nginx on 127.0.0.1 (a free port) in front of ``addresses``; stopped afterwards."""
    binary = require_nginx()
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = root / "nginx.conf"
    config.write_text(render_test_config(root, f"127.0.0.1:{port}", addresses))
    tested = subprocess.run([binary, "-t", "-p", str(root), "-c", str(config), "-g", _global_options(root)],
                            capture_output=True, text=True, timeout=30)
    if tested.returncode != 0:
        raise AssertionError(f"nginx -t refused the rendered site:\n{tested.stderr}\n{config.read_text()}")
    with open(root / "nginx.out", "wb") as output:
        process = subprocess.Popen([binary, "-p", str(root), "-c", str(config), "-g", _global_options(root)],
                                   stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                                   start_new_session=True)
    server = Nginx(f"http://127.0.0.1:{port}", process, root, config)
    try:
        _wait_for_port(port, process, server)
        yield server
    finally:
        stop_process(process)  # SIGTERM: nginx's fast shutdown


def _wait_for_port(port: int, process: subprocess.Popen, server: Nginx) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}:\n{server.log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on {port} within {START_TIMEOUT:.0f} s:\n{server.log()}")


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub.example.org")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                   .sign(key, hashes.SHA256()))
    cert, key_file = directory / "cert.pem", directory / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert, key_file


def check_site_syntax(root: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` on the whole committed site (HTTP redirect, TLS server, default server)
    inside a minimal nginx.conf, its certificate placeholders pointing at a self-signed pair."""
    binary = require_nginx()
    root.mkdir(parents=True, exist_ok=True)
    cert, key = _self_signed(root)
    site = SITE.read_text()
    for placeholder in (SITE_CERT, SITE_KEY):
        if placeholder not in site:
            raise AssertionError(f"{SITE} no longer names {placeholder}; update tests/support/deployment.py")
    site = site.replace(SITE_CERT, str(cert)).replace(SITE_KEY, str(key))
    (root / "site.conf").write_text(site)
    user = "user root;\n" if os.geteuid() == 0 else ""
    (root / "nginx.conf").write_text(
        f"{user}events {{}}\nhttp {{\n    access_log off;\n    include {root / 'site.conf'};\n}}\n")
    return subprocess.run([binary, "-t", "-p", str(root), "-c", str(root / "nginx.conf"),
                           "-g", _global_options(root)], capture_output=True, text=True, timeout=30)


# -- systemd ------------------------------------------------------------------------------------
def check_units(root: Path) -> subprocess.CompletedProcess:
    """``systemd-analyze verify`` on the committed units, their ExecStart pointing at this
    checkout's ``integration-hub`` (verify insists that the executable exists)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        missing_component("systemd-analyze is not installed (apt-get install systemd): it checks "
                          "the committed units in deploy/systemd/")
    executable = Path(sys.executable).parent / "integration-hub"
    root.mkdir(parents=True, exist_ok=True)
    copies = []
    for unit in sorted(UNITS.glob("*.service")):
        text = unit.read_text()
        if UNIT_EXECUTABLE not in text:
            raise AssertionError(f"{unit} no longer runs {UNIT_EXECUTABLE}; "
                                 "update tests/support/deployment.py")
        copy = root / unit.name
        copy.write_text(text.replace(UNIT_EXECUTABLE, str(executable)))
        copies.append(str(copy))
    return subprocess.run([analyze, "verify", "--man=no", *copies], capture_output=True, text=True,
                          timeout=60)


# -- both ---------------------------------------------------------------------------------------
@dataclass
class Deployment:
    """N hub instances behind nginx; ``base`` is the public base URL (…/hub)."""

    nginx: Nginx
    instances: list[HubInstance]
    served_counts: list[int] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return self.nginx.url

    @property
    def base(self) -> str:
        return f"{self.nginx.url}{PREFIX}"

    def mark(self) -> list[int]:
        """How many requests each instance has logged so far (see ``served_by``)."""
        return [len(instance.served()) for instance in self.instances]

    def served_by(self, mark: list[int], method: str, target_prefix: str) -> list[str]:
        """Names of the instances that logged ``method`` on a target starting with ``target_prefix``
        (as the instance saw it: without /hub) since ``mark``. Waits up to 5 s for one: gunicorn
        writes the line just after the answer."""
        deadline = time.monotonic() + LOG_WAIT
        while True:
            names = [instance.name for instance, skip in zip(self.instances, mark, strict=True)
                     for logged_method, target, _ in instance.served()[skip:]
                     if logged_method == method and target.startswith(target_prefix)]
            if names or time.monotonic() > deadline:
                return names
            time.sleep(0.05)

    def logs(self) -> str:
        return "\n".join([f"--- nginx\n{self.nginx.log()}"]
                         + [f"--- {i.name}\n{i.log()}" for i in self.instances])


@contextmanager
def hub_behind_nginx(settings, root: Path, count: int = 2) -> Iterator[Deployment]:
    """``count`` hub instances on one database behind nginx with the committed site."""
    require_nginx()  # skip before starting anything
    with ExitStack() as stack:
        instances = stack.enter_context(hub_instances(settings, root / "instances", count))
        nginx = stack.enter_context(nginx_in_front([i.address for i in instances], root / "nginx"))
        yield Deployment(nginx, instances)
