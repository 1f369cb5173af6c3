"""Memory of a sync worker fetching one large page (docs/performance.md, "Sync pages").

A real upstream (Python's ``http.server`` in a process of its own) serves listings of one
page each, ``--sizes`` MiB of JSON (items of about 400 bytes, ``Content-Length`` set). For
every size the sync runs twice, each time in a fresh process that does what the task
queue's worker does (``sync.execute`` on a queued run): once with the default
``HUB_SYNC_MAX_PAGE_BYTES``, once with it far above the page, which reads and parses the
whole page as syncs did before the cap. The child reports its resident memory before the
run, its peak (``ru_maxrss``) and what it still holds afterwards, and the run's outcome.

Not part of ``make bench``: there is no target, the figures are compared with those in
docs/performance.md.

    python -m bench.sync_page_memory [--backend sqlite|postgresql] [--sizes 8,29,64,96]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import harness
from bench.proxy_throughput import bearer

MIB = 1024 * 1024
UNCAPPED = 1024 * MIB  # far above every page: the whole page is read and parsed


def item(number: int) -> dict:
    """A record as APIs list them: a few dozen short fields, some nested."""
    return {"id": number, "name": f"Contact {number}", "email": f"c{number}@example.com",
            "phone": "+49 30 1234567", "active": number % 3 != 0, "score": number / 7,
            "tags": ["customer", "newsletter", f"t{number % 10}"],
            "address": {"street": "Main Street 1", "city": "Berlin", "zip": "10115",
                        "country": "DE"},
            "created": "2026-01-01T00:00:00Z", "updated": "2026-11-30T12:00:00Z",
            "owner": {"id": number % 50, "name": f"Owner {number % 50}"},
            "custom": {"f1": number, "f2": "x", "f3": None}}


def write_page(path: Path, size: int) -> None:
    """A JSON page of ``size`` bytes: ``{"data": [items of about 400 bytes]}``, padded."""
    with path.open("w") as out:
        out.write('{"data": [')
        written, number = len('{"data": [') + 2, 0
        while True:
            item_text = json.dumps(item(number))
            if written + len(item_text) + 1 > size:
                break
            out.write(("," if number else "") + item_text)
            written += len(item_text) + (1 if number else 0)
            number += 1
        out.write("]}" + " " * (size - written))


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def child(integration: str, token: str) -> None:
    """Trigger the sync over the app's own API, then run it as the worker would."""
    from integration_hub import create_app
    from integration_hub.config import Settings
    from integration_hub.queue import job_queue

    app = create_app(Settings.from_env(dict(os.environ)))
    client = app.test_client()
    queued = client.post(f"/api/integrations/{integration}/sync", headers=bearer(token))
    if queued.status_code != 202:
        sys.exit(f"trigger answered {queued.status_code}: {queued.get_data(as_text=True)}")
    huey = job_queue(app).huey
    task = huey.dequeue()
    before = rss()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    huey.execute(task)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    after = rss()
    run = client.get(queued.get_json()["_links"]["self"]["href"], headers=bearer(token)).get_json()
    print(json.dumps({"before": before, "peak": max(peak, peak_before), "after": after,
                      "status": run["status"], "code": run.get("errorCode"),
                      "fetched": run.get("fetched")}))


def measure(backend: str, sizes: list[int]) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory(prefix="hub-bench-pages-") as scratch, \
            harness.hub_instance(backend) as hub:
        pages = Path(scratch) / "v1" / "pages"
        pages.mkdir(parents=True)
        for mib in sizes:
            write_page(pages / f"{mib}.json", mib * MIB)
        port = harness.free_port()
        log = Path(scratch) / "upstream.log"
        with open(log, "ab") as output:
            upstream = subprocess.Popen(
                [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                 "--directory", scratch], stdin=subprocess.DEVNULL, stdout=output, stderr=output)
        try:
            url = f"http://127.0.0.1:{port}"
            harness.wait_until_answering(url + "/v1/", upstream, log)
            hub.cli("create-user", "ada", "--superuser")
            token = hub.cli("create-token", "ada").split()[-1]
            app = hub.app()
            client = app.test_client()
            for mib in sizes:
                created = client.post("/api/integrations", headers=bearer(token), json={
                    "name": f"Pages {mib}", "type": "custom", "authType": "apikey",
                    "mode": "shared", "apiBaseUri": f"{url}/v1", "apiKey": "bench-key",
                    "data": {"sync": {"path": f"/pages/{mib}.json", "itemsPath": "data"}}})
                if created.status_code != 201:
                    sys.exit(f"creating the integration: {created.get_data(as_text=True)}")
                integration = created.get_json()["id"]
                for cap in (None, UNCAPPED):
                    env = dict(hub.env)
                    if cap is not None:
                        env["HUB_SYNC_MAX_PAGE_BYTES"] = str(cap)
                    done = subprocess.run(
                        [sys.executable, "-m", "bench.sync_page_memory", "--child", integration,
                         token], cwd=harness.REPO, env=env, capture_output=True, text=True,
                        check=False)
                    if done.returncode != 0:
                        sys.exit(f"the worker failed:\n{done.stderr[-3000:]}")
                    result = json.loads(done.stdout.strip().splitlines()[-1])
                    results.append({"mib": mib, "cap": cap, **result})
                    print(f"  {mib} MiB page, cap {'default' if cap is None else 'above it'}: "
                          f"{result}", flush=True)
        finally:
            harness.stop(upstream)
    return results


def report(results: list[dict]) -> None:
    harness.heading("Sync worker memory, one page per listing")
    harness.table(
        ["page", "HUB_SYNC_MAX_PAGE_BYTES", "outcome", "RSS before", "peak", "growth", "after"],
        [[f"{r['mib']} MiB", "default" if r["cap"] is None else "1 GiB (as before)",
          r["status"] if r["code"] is None else r["code"],
          f"{r['before'] / MIB:,.0f} MiB", f"{r['peak'] / MIB:,.0f} MiB",
          f"{(r['peak'] - r['before']) / MIB:,.0f} MiB", f"{r['after'] / MIB:,.0f} MiB"]
         for r in results])


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--sizes", default="8,29,64,96",
                        help="page sizes in MiB, comma-separated")
    arguments = parser.parse_args()
    report(measure(arguments.backend, [int(s) for s in arguments.sizes.split(",")]))


if __name__ == "__main__":
    main()
