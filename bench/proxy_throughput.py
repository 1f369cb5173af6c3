"""Benchmark 1: proxy throughput and latency (docs/performance.md).

Three ways to reach the same nginx upstream, measured one after the other with wrk:

- direct: wrk calls the upstream itself;
- pass-through: a bare Flask + urllib3 app (``bench/passthrough.py``) under the hub's own
  gunicorn settings;
- hub: the full path — bearer token, ACL (the caller sees the integration through a team
  share), the caller's own connection (per-user API key), two headers expanded from the
  caller's identity, the upstream call, the request log.

Before measuring, one call checks that the upstream saw the caller's key and expanded
headers, so the figures are for the full path. Targets: hub >= 0.8 x pass-through
throughput; hub p50 at concurrency 1 <= direct p50 + 2 ms.

    python -m bench.proxy_throughput [--backend sqlite|postgresql ...] [--seconds 3] [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench import harness

CONCURRENCY = (1, 16)


def seed(hub: harness.Hub, base: str, upstream: str) -> tuple[str, str]:
    """An admin-made API-key integration shared with team eng, and bob (in eng) connected
    with his own key; returns (bob's token, the integration id)."""
    hub.cli("create-user", "ada", "--superuser", "--email", "ada@example.com")
    hub.cli("create-user", "bob", "--email", "bob@example.com")
    hub.cli("create-team", "eng", "--name", "Engineering", "--member", "bob")
    bob = hub.cli("create-token", "bob").split()[-1]
    integration = shared_integration(hub, base, f"{upstream}/v1", bob)
    with harness.http() as client:
        echoed = client.get(f"{base}/api/integrations/{integration}/request/echo",
                            headers=bearer(bob))
    expected = {"email": "bob@example.com", "tenant": "default", "key": "bobs-own-key"}
    if echoed.status_code != 200 or echoed.json() != expected:
        raise SystemExit(f"the upstream did not see the full path's headers: "
                         f"{echoed.status_code} {echoed.text[:300]}")
    return bob, integration


def shared_integration(hub: harness.Hub, base: str, api_base: str, bob: str) -> str:
    """ada creates an API-key integration on ``api_base`` with two templated headers and
    shares it with team eng; bob connects his own key. Returns its id."""
    ada = hub.cli("create-token", "ada").split()[-1]
    with harness.http() as client:
        created = client.post(f"{base}/api/integrations", headers=bearer(ada), json={
            "name": f"Bench {api_base}", "type": "custom", "authType": "apikey",
            "mode": "per-user", "apiBaseUri": api_base, "apiKeyName": "X-Api-Key",
            "headers": {"X-User-Email": "${user.email}", "X-Tenant": "${tenant.id}"}})
        created.raise_for_status()
        integration = created.json()["id"]
        client.put(f"{base}/api/integrations/{integration}/shares/team:eng", headers=bearer(ada),
                   json={"accessLevel": 1}).raise_for_status()
        client.post(f"{base}/api/integrations/{integration}/connect", headers=bearer(bob),
                    json={"apiKey": "bobs-own-key"}).raise_for_status()
    return integration


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def measure(backend: str, seconds: float,
            runs: int) -> dict[tuple[str, int], harness.Load]:
    results: dict[tuple[str, int], harness.Load] = {}
    with tempfile.TemporaryDirectory(prefix="hub-bench-upstream-") as scratch, \
            harness.nginx_upstream(Path(scratch)) as upstream, \
            harness.hub_instance(backend) as hub:
        log = hub.folder / "gunicorn.log"
        with harness.gunicorn("wsgi:app", hub.env, log) as base:
            token, integration = seed(hub, base, upstream)
            hub_url = f"{base}/api/integrations/{integration}/request/echo"
            auth = [f"Authorization: Bearer {token}"]
            for concurrency in CONCURRENCY:
                harness.wrk(hub_url, concurrency, 1, auth)  # warm-up: pools, caches
                results["hub", concurrency] = harness.median_wrk(hub_url, concurrency, seconds,
                                                                 runs, auth)
        env = {**hub.env, "HUB_BENCH_UPSTREAM": upstream}
        with harness.gunicorn("bench.passthrough:app", env, log) as base:
            for concurrency in CONCURRENCY:
                harness.wrk(f"{base}/v1/echo", concurrency, 1)
                results["pass-through", concurrency] = harness.median_wrk(
                    f"{base}/v1/echo", concurrency, seconds, runs)
        for concurrency in CONCURRENCY:
            harness.wrk(f"{upstream}/v1/echo", concurrency, 1)
            results["direct", concurrency] = harness.median_wrk(
                f"{upstream}/v1/echo", concurrency, seconds, runs)
    return results


def report(backend: str, results: dict[tuple[str, int], harness.Load]) -> None:
    harness.heading(f"proxy throughput and latency, hub database {backend} "
                    f"({harness.WORKERS} gunicorn processes x {harness.THREADS} threads)")
    harness.table(["target", "concurrency", "requests/s", "runs' range", "p50 ms", "p99 ms",
                   "failures"],
                  [[target, c, r.requests_per_second, r.spread, r.p50_ms, r.p99_ms, r.failures]
                   for (target, c), r in results.items()])
    for concurrency in CONCURRENCY:
        ratio = (results["hub", concurrency].requests_per_second
                 / results["pass-through", concurrency].requests_per_second)
        harness.verdict(f"hub / pass-through throughput at concurrency {concurrency}",
                        f"{ratio:.2f}x", ">= 0.80x", ratio >= 0.8)
    added = results["hub", 1].p50_ms - results["direct", 1].p50_ms
    harness.verdict("added p50 latency over a direct call at concurrency 1",
                    f"{added:.2f} ms", "<= 2 ms", added <= 2.0)
    failures = sum(r.failures for r in results.values())
    if failures:
        print(f"  {failures} calls failed: the figures above are not valid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"))
    parser.add_argument("--seconds", type=float, default=3.0, help="per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="wrk runs per figure (median)")
    args = parser.parse_args()
    for backend in args.backend or ["sqlite", "postgresql"]:
        report(backend, measure(backend, args.seconds, args.runs))


if __name__ == "__main__":
    main()
