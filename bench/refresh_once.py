"""Benchmark 4: one token refresh for a burst of proxied calls (docs/performance.md).

The deployment this is about: gunicorn with 2 worker processes sharing one PostgreSQL
database. A user's OAuth2 connection holds an expired access token; 50 proxied calls for
that user arrive at once (threads released by a barrier, each on its own HTTP connection),
while a real OAuth2 authorization server answers the refresh slowly, so the calls really
overlap it. The upstream of the proxied calls is that server's own ``/userinfo``, which
records the bearer token of every call.

Per burst it counts the token requests (target: exactly 1), the answers' statuses, the
distinct bearer tokens the upstream saw (1, and not the expired one) and, from gunicorn's
access log (``%(p)s``, the worker's pid), which processes served the calls. The burst is
repeated with a freshly expired connection each round.

    python -m bench.refresh_once [--rounds 3] [--calls 50] [--token-delay-ms 500]
"""

from __future__ import annotations

import argparse
import collections
import re
import shlex
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

from bench import harness
from tests.support.oauth_server import OAuthServer, node_available, start_oauth_server

WORKERS = 2
TIMEOUT = 30.0
ACCESS_LINE = re.compile(r"^pid=<?(\d+)>? (\S+) (\S+) (\d{3})$")


@dataclass
class Round:
    token_requests: int
    grant_ok: bool  # the one token request was a refresh_token grant with the round's token
    statuses: collections.Counter
    upstream_calls: int
    bearers: set[str]
    wall_s: float
    slowest_s: float
    pids: collections.Counter

    @property
    def answered_200(self) -> int:
        return self.statuses[200]


def access_log_args(log: Path) -> str:
    """GUNICORN_CMD_ARGS turning on gunicorn's access log with the worker's pid; the hub's
    code and gunicorn.conf.py stay as they are."""
    from gunicorn.config import KNOWN_SETTINGS

    args = ["--access-logfile", str(log), "--access-logformat", "pid=%(p)s %(m)s %(U)s %(s)s"]
    if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS):
        args.append("--no-control-socket")  # gunicorn >= 27: no socket in ~/.gunicorn
    return shlex.join(args)


def served(log: Path, path: str, skip: int = 0) -> list[int]:
    """Worker pids of the GET ``path`` lines after the first ``skip`` lines of the log."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    found = (ACCESS_LINE.match(line.strip()) for line in lines[skip:])
    return [int(m[1]) for m in found if m and m[2] == "GET" and m[3] == path]


def log_length(log: Path) -> int:
    return len(log.read_text(errors="replace").splitlines()) if log.exists() else 0


def seed(hub: harness.Hub, base: str, oauth: OAuthServer) -> tuple[dict[str, str], str]:
    """A superuser and an OAuth2 integration on the authorization server, whose proxied
    calls go to the server itself; returns (the user's auth header, the integration id)."""
    hub.cli("create-user", "ada", "--superuser", "--email", "ada@example.com")
    auth = {"Authorization": f"Bearer {hub.cli('create-token', 'ada').split()[-1]}"}
    with harness.http() as client:
        created = client.post(f"{base}/api/integrations", headers=auth, timeout=TIMEOUT, json={
            "name": "Bench OAuth provider", "type": "bench-oauth", "authType": "oauth2",
            "mode": "per-user", "authUri": oauth.authorize_url, "tokenUri": oauth.token_url,
            "userInfoUri": oauth.userinfo_url, "revocationUri": oauth.revoke_url,
            "apiBaseUri": oauth.issuer, "clientId": "hub-client",
            "clientSecret": "hub-client-secret-value", "scope": "openid email"})
    if created.status_code != 201:
        raise SystemExit(f"creating the integration failed: {created.status_code} "
                         f"{created.text[:500]}")
    return auth, created.json()["id"]


def warm_up(base: str, auth: dict[str, str], integration: str, log: Path) -> None:
    """Concurrent authenticated reads until both workers have served some (database pools,
    imports), so the bursts measure the refresh and not a cold start."""
    path = f"/api/integrations/{integration}"

    def get(_):
        with harness.http() as client:
            client.get(base + path, headers=auth, timeout=TIMEOUT)

    deadline = time.monotonic() + 15
    with ThreadPoolExecutor(max_workers=8) as pool:
        while len(set(served(log, path))) < WORKERS and time.monotonic() < deadline:
            list(pool.map(get, range(16)))
            time.sleep(0.2)


def connect_expired(base: str, auth: dict[str, str], integration: str, number: int) -> str:
    """Connect with an access token that has already expired; returns its refresh token."""
    refresh = f"bench-refresh-{number}"
    with harness.http() as client:
        answer = client.post(f"{base}/api/integrations/{integration}/connect", headers=auth,
                             timeout=TIMEOUT, json={"accessToken": f"bench-expired-{number}",
                                                    "refreshToken": refresh, "expiresIn": 0})
    if answer.status_code != 201:
        raise SystemExit(f"connect failed: {answer.status_code} {answer.text[:500]}")
    return refresh


def burst(url: str, auth: dict[str, str], calls: int) -> tuple[list, float, float]:
    """``calls`` simultaneous GETs, each on its own connection; returns (status or error
    per call, wall time from the release to the last answer, the slowest call)."""
    start = threading.Barrier(calls)

    def one(_):
        with harness.http() as client:
            start.wait(timeout=TIMEOUT)
            began = time.monotonic()
            try:
                status = client.get(url, headers=auth, timeout=TIMEOUT).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            return status, began, time.monotonic()

    with ThreadPoolExecutor(max_workers=calls) as pool:
        results = list(pool.map(one, range(calls)))
    wall = max(r[2] for r in results) - min(r[1] for r in results)
    return [r[0] for r in results], wall, max(r[2] - r[1] for r in results)


def measure(rounds: int, calls: int, delay_ms: int) -> list[Round]:
    if reason := node_available(harness.REPO):
        raise SystemExit(reason)
    with start_oauth_server(harness.REPO) as oauth, harness.hub_instance("postgresql") as hub:
        access_log = hub.folder / "access.log"
        env = {**hub.env, "GUNICORN_CMD_ARGS": access_log_args(access_log)}
        with harness.gunicorn("wsgi:app", env, hub.folder / "gunicorn.log",
                              workers=WORKERS) as base:
            auth, integration = seed(hub, base, oauth)
            warm_up(base, auth, integration, access_log)
            return [one_round(number, base, auth, integration, oauth, access_log, calls,
                              delay_ms) for number in range(1, rounds + 1)]


def one_round(number: int, base: str, auth: dict[str, str], integration: str,
              oauth: OAuthServer, access_log: Path, calls: int, delay_ms: int) -> Round:
    """Expire the connection, slow the token endpoint down, fire the burst, count."""
    refresh = connect_expired(base, auth, integration, number)
    oauth.reset()  # forget the connect's own /userinfo call
    oauth.queue_token_responses({"delayMs": delay_ms})
    path = f"/api/integrations/{integration}/request/userinfo"
    skip = log_length(access_log)
    statuses, wall, slowest = burst(base + path, auth, calls)
    grants = [(t["form"] or {}) for t in oauth.requests("/token")]
    grant_ok = [(g.get("grant_type"), g.get("refresh_token")) for g in grants] == [
        ("refresh_token", refresh)]
    userinfo = oauth.requests("/userinfo")
    bearers = {u["headers"].get("authorization", "") for u in userinfo}
    pids = wait_for_lines(access_log, path, skip, calls)
    return Round(len(grants), grant_ok, collections.Counter(statuses), len(userinfo), bearers,
                 wall, slowest, collections.Counter(pids))


def wait_for_lines(log: Path, path: str, skip: int, expected: int) -> list[int]:
    """gunicorn writes an access line just after the answer: wait (2 s at most) for them."""
    deadline = time.monotonic() + 2
    while len(pids := served(log, path, skip)) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return pids


def report(results: list[Round], calls: int, delay_ms: int) -> None:
    harness.heading(f"token refresh under a burst of {calls} proxied calls, PostgreSQL, "
                    f"{WORKERS} gunicorn processes x {harness.THREADS} threads, "
                    f"token endpoint delayed {delay_ms} ms")
    rows = []
    for number, r in enumerate(results, 1):
        others = {str(k): v for k, v in r.statuses.items() if k != 200}
        split = " + ".join(str(n) for _, n in sorted(r.pids.items())) or "n/a"
        rows.append([number, r.token_requests, "yes" if r.grant_ok else "no",
                     f"{r.answered_200}/{calls}", ", ".join(f"{k}: {v}" for k, v in
                                                            others.items()) or "-",
                     r.upstream_calls, len(r.bearers), "yes" if any("bench-expired" in b for b in r.bearers)
                     else "no", split, r.wall_s * 1000, r.slowest_s * 1000])
    harness.table(["round", "token requests", "refresh grant", "200 answers", "other answers",
                   "upstream calls", "distinct bearers", "expired bearer seen", "calls per process",
                   "burst wall ms", "slowest call ms"], rows)
    counts = [r.token_requests for r in results]
    invalid = [n for n, r in enumerate(results, 1)
               if r.answered_200 != calls or r.upstream_calls != calls
               or len(r.bearers) != 1 or not r.grant_ok
               or any("bench-expired" in b for b in r.bearers)]
    harness.verdict(f"token requests per burst of {calls}", ", ".join(map(str, counts)),
                    "exactly 1, every call answered with the new token",
                    all(c == 1 for c in counts) and not invalid)
    if invalid:
        print(f"  rounds {invalid}: not every call succeeded with the one new token")
    if all(len(r.pids) < WORKERS for r in results):
        print("  every burst was served by a single process: the split was not exercised")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--token-delay-ms", type=int, default=500)
    args = parser.parse_args()
    results = measure(args.rounds, args.calls, args.token_delay_ms)
    report(results, args.calls, args.token_delay_ms)


if __name__ == "__main__":
    main()
