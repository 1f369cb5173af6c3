"""Metrics and logs of a real gunicorn with several worker processes, in production
mode: a scrape adds up every process's counts whichever process answers it, and the
log lines are JSON carrying the request id."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.support.prometheus import sample
from tests.support.served_hub import production_hub

METRICS_TOKEN = "gunicorn-metrics-token-5512"
CALLS = 48


def test_metrics_add_up_over_worker_processes_and_logs_are_json(tmp_path):
    metrics_dir = tmp_path / "metrics"
    with production_hub(tmp_path, HUB_METRICS_TOKEN=METRICS_TOKEN,
                        HUB_ACCESS_LOG=str(tmp_path / "access.log"),
                        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)) as hub:
        base, token, log = hub.base, hub.token, hub.log

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
