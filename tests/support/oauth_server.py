"""A real OAuth2 authorization server process (oauth2-mock-server) for tests.

``start_oauth_server(repo_root)`` runs ``node tests/support/oauth_server.mjs`` and returns an
:class:`OAuthServer` that knows its URLs and drives the server's ``/__control/`` endpoints:
what the server validates on its own, and what the behaviours do, is described at the top of
``oauth_server.mjs``. Needs ``npm ci`` (node_modules/oauth2-mock-server) in the repository.
"""

from __future__ import annotations

import atexit
import collections
import shutil
import subprocess
import threading
from pathlib import Path

import requests

SCRIPT = Path("tests") / "support" / "oauth_server.mjs"
READY_TIMEOUT = 20.0
CONTROL_TIMEOUT = 10.0
MIN_NODE_MAJOR = 20


def node_available(repo_root: Path | str) -> str | None:
    """None when the OAuth server can run here, else the reason it cannot."""
    node = shutil.which("node")
    if node is None:
        return "node is not installed (the OAuth2 mock server needs Node.js >= 20)"
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10,
                                 check=True).stdout.strip()
        major = int(version.lstrip("v").split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return f"cannot run node --version: {exc}"
    if major < MIN_NODE_MAJOR:
        return f"node {version} is too old for oauth2-mock-server (needs >= {MIN_NODE_MAJOR})"
    if not (Path(repo_root) / "node_modules" / "oauth2-mock-server" / "package.json").is_file():
        return f"node_modules/oauth2-mock-server is missing in {repo_root}: run npm ci"
    return None


class OAuthServer:
    """A running oauth2-mock-server process, wrapped by tests/support/oauth_server.mjs."""

    def __init__(self, process: subprocess.Popen, issuer: str, stderr: collections.deque,
                 threads: list[threading.Thread]):
        self.process = process
        self.issuer = issuer  # "http://127.0.0.1:<port>"
        self._stderr = stderr
        self._threads = threads
        self._http = requests.Session()
        self._http.trust_env = False  # never send loopback control calls through a proxy
        self._stopped = False

    # -- URLs ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self.issuer.rsplit(":", 1)[1])

    @property
    def authorize_url(self) -> str:
        return f"{self.issuer}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    @property
    def userinfo_url(self) -> str:
        return f"{self.issuer}/userinfo"

    @property
    def revoke_url(self) -> str:
        return f"{self.issuer}/revoke"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    # -- control ---------------------------------------------------------------------------
    def _control(self, method: str, name: str, payload=None, params=None):
        response = self._http.request(method, f"{self.issuer}/__control/{name}", json=payload,
                                      params=params, timeout=CONTROL_TIMEOUT)
        response.raise_for_status()
        return response.json()

    def requests(self, path: str | None = None) -> list[dict]:
        """Recorded requests, oldest first, each {method, path, query, headers, form, body, time}."""
        recorded = self._control("GET", "requests")
        return recorded if path is None else [r for r in recorded if r["path"] == path]

    def reset(self) -> None:
        """Forget the recordings and every queued or persisting behaviour."""
        self._control("POST", "reset")

    def queue_token_responses(self, *behaviours: dict) -> None:
        """Behaviours for the next POST /token calls, in order: {"status", "body"} answers exactly
        that; {"body"} merges into the normal answer (None removes a field); {"delayMs"} delays."""
        self._control("POST", "token-responses", list(behaviours))

    def set_userinfo(self, body: dict, status: int = 200) -> None:
        """Answer /userinfo with this body (and status) until reset()."""
        self._control("POST", "userinfo", body, params={"status": status})

    def next_authorize(self, **params) -> None:
        """Set these query parameters on the next /authorize redirect (None removes one);
        error=... also removes the code. E.g. error="access_denied" or iss="https://other"."""
        self._control("POST", "authorize", params)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        self._http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        _close_pipes(self.process)
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> OAuthServer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<OAuthServer {self.issuer} pid={self.process.pid}>"


def _close_pipes(process: subprocess.Popen) -> None:
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass


def _drain(pipe, keep: collections.deque, on_line=None) -> None:
    """Read a child's pipe to its end so that it can never fill up and block the child."""
    try:
        for line in pipe:
            keep.append(line)
            if on_line is not None:
                on_line(line)
    except (OSError, ValueError):  # closed under us by stop()
        pass


def start_oauth_server(repo_root: Path | str) -> OAuthServer:
    """Start the OAuth2 mock server; wait (at most 20 s) until it says READY."""
    repo_root = Path(repo_root)
    node = shutil.which("node") or "node"
    try:
        process = subprocess.Popen(
            # --exit-on-stdin-close: the server ends when this process dies, even by SIGKILL.
            [node, str(SCRIPT), "--exit-on-stdin-close"],
            cwd=repo_root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
        )
    except OSError as exc:
        raise RuntimeError(f"cannot start the OAuth2 mock server: {exc}") from exc

    ready = threading.Event()
    found: list[str] = []
    stdout: collections.deque = collections.deque(maxlen=200)
    stderr: collections.deque = collections.deque(maxlen=500)

    def on_stdout(line: str) -> None:
        if not ready.is_set() and line.startswith("READY "):
            found.append(line.split(None, 1)[1].strip())
            ready.set()

    threads = [
        threading.Thread(target=_drain, args=(process.stdout, stdout, on_stdout),
                         name="oauth-server-stdout", daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, stderr),
                         name="oauth-server-stderr", daemon=True),
    ]
    for thread in threads:
        thread.start()
    # A stdout that ends (the child died) must not leave us waiting for the full timeout.
    threading.Thread(target=lambda: (threads[0].join(), ready.set()), daemon=True).start()

    server = OAuthServer(process, "", stderr, threads)
    atexit.register(server.stop)
    ready.wait(READY_TIMEOUT)
    if not found:
        exited = process.poll()
        server.stop()
        state = f"exited with {exited}" if exited is not None else f"not ready in {READY_TIMEOUT:.0f} s"
        raise RuntimeError(
            f"the OAuth2 mock server ({SCRIPT}) {state}.\n"
            f"stdout:\n{''.join(stdout)}\nstderr:\n{''.join(stderr)}"
        )
    server.issuer = found[0]
    return server
