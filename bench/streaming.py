"""Benchmark 2: streaming a large file through the proxy (docs/performance.md).

nginx serves one file (``--mib``, 1 GiB by default) from its ``/files/`` folder; curl
downloads it and throws the body away, so the client keeps nothing in memory:

- direct: curl asks nginx itself;
- hub: curl asks the hub's raw proxy, ``GET /api/integrations/{id}/request/big.bin`` as bob,
  on an integration whose apiBaseUri is the upstream's ``/files`` (bob connected with his
  own key, the integration shared with team eng): token auth, ACL, connection, templates,
  the upstream call and the request log, as in benchmark 1;
- pass-through, for context only: the bare Flask + urllib3 app of benchmark 1
  (``bench/passthrough.py``, same gunicorn settings, same 256 KiB chunks), so a miss can be
  told apart from the hub's own cost.

The file is sparse (``truncate``): nginx sends it with sendfile from the page cache (a
warm-up download fills it), exactly as it would a file of real bytes once cached, so the
direct baseline is as fast as nginx can be and the ratio is a strict one.

While the hub answers, a thread samples the resident memory of the gunicorn master and its
workers every 20 ms; the growth is the peak minus the value just before the download,
measured after a few small warm-up downloads through the hub (pools, imports, buffers).
Each target is downloaded ``--runs`` times, alternating; the median run counts.
Targets: peak RSS growth <= 32 MiB; hub throughput >= 0.5 x direct download.

    python -m bench.streaming [--backend sqlite|postgresql ...] [--mib 1024] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench import harness
from bench.proxy_throughput import bearer, seed, shared_integration

MIB = 1024 * 1024
RSS_GROWTH_LIMIT_MIB = 32.0
THROUGHPUT_RATIO = 0.5
SAMPLE_SECONDS = 0.02
WARM_UP_MIB = 8
WARM_UP_DOWNLOADS = 6  # sequential, new connections: both workers most likely get some


@dataclass
class Download:
    target: str
    size: int
    seconds: float
    status: int
    rss_before: int = 0
    rss_peak: int = 0

    @property
    def mib_per_second(self) -> float:
        return self.size / MIB / self.seconds

    @property
    def rss_growth(self) -> int:
        return self.rss_peak - self.rss_before


def curl(url: str, expected_size: int, headers: dict[str, str] | None = None) -> Download:
    """One download with curl, body discarded; the size and status are checked."""
    command = [harness.need("curl", "curl"), "-s", "--noproxy", "*", "-o", "/dev/null",
               "-w", "%{size_download} %{http_code} %{time_total}"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run([*command, url], capture_output=True, text=True, check=False)
    try:
        size, status, seconds = done.stdout.split()
    except ValueError:
        sys.exit(f"curl failed against {url} ({done.returncode}): {done.stdout}{done.stderr}")
    if int(status) != 200 or int(size) != expected_size:
        sys.exit(f"{url} answered {status} with {size} bytes, expected 200 with {expected_size}")
    return Download(url, int(size), float(seconds), int(status))


class PeakRss:
    """Samples a process tree's resident memory in a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, harness.process_tree_rss(self.pid))
            if self._done.wait(SAMPLE_SECONDS):
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, harness.process_tree_rss(self.pid))


def files_integration(hub: harness.Hub, base: str, upstream: str) -> tuple[str, str]:
    """Benchmark 1's users, team and checked full path, plus an integration over the
    upstream's ``/files`` made the same way; returns (bob's token, its id)."""
    bob, _ = seed(hub, base, upstream)
    return bob, shared_integration(hub, base, f"{upstream}/files", bob)


def measure(backend: str, mib: int, runs: int) -> list[Download]:
    size = mib * MIB
    downloads: list[Download] = []
    with tempfile.TemporaryDirectory(prefix="hub-bench-upstream-") as scratch, \
            harness.nginx_upstream(Path(scratch)) as upstream, \
            harness.hub_instance(backend) as hub:
        files = Path(scratch) / "files"
        subprocess.run(["truncate", "-s", str(size), str(files / "big.bin")], check=True)
        subprocess.run(["truncate", "-s", str(WARM_UP_MIB * MIB), str(files / "small.bin")],
                       check=True)
        log = hub.folder / "gunicorn.log"
        with harness.gunicorn_process("wsgi:app", hub.env, log) as (base, master):
            token, integration = files_integration(hub, base, upstream)
            proxied = f"{base}/api/integrations/{integration}/request"
            auth = bearer(token)
            curl(f"{upstream}/files/big.bin", size)  # fills the page cache
            for _ in range(WARM_UP_DOWNLOADS):
                curl(f"{proxied}/small.bin", WARM_UP_MIB * MIB, auth)
            for _ in range(runs):
                direct = curl(f"{upstream}/files/big.bin", size)
                direct.target = "direct"
                time.sleep(0.2)  # let the workers settle before the baseline sample
                before = harness.process_tree_rss(master.pid)
                with PeakRss(master.pid) as rss:
                    through_hub = curl(f"{proxied}/big.bin", size, auth)
                through_hub.target, through_hub.rss_before = "hub", before
                through_hub.rss_peak = rss.peak
                downloads += [direct, through_hub]
        env = {**hub.env, "HUB_BENCH_UPSTREAM": upstream}
        with harness.gunicorn("bench.passthrough:app", env, log) as base:
            curl(f"{base}/files/small.bin", WARM_UP_MIB * MIB)
            for _ in range(runs):
                passed = curl(f"{base}/files/big.bin", size)
                passed.target = "pass-through"
                downloads.append(passed)
    return downloads


def _median(downloads: list[Download], target: str) -> float:
    return statistics.median(d.mib_per_second for d in downloads if d.target == target)


def report(backend: str, mib: int, downloads: list[Download]) -> None:
    harness.heading(f"streaming {mib:,} MiB through the proxy, hub database {backend} "
                    f"({harness.WORKERS} gunicorn processes x {harness.THREADS} threads)")
    harness.table(["target", "MiB", "seconds", "MiB/s", "status"],
                  [[d.target, d.size // MIB, f"{d.seconds:.3f}", d.mib_per_second, d.status]
                   for d in downloads])
    print(f"  (load average over the last minute when done: {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} CPUs; other work on the machine shows in these figures)")
    hub_runs = [d for d in downloads if d.target == "hub"]
    print()
    harness.table(["hub run", "RSS before MiB", "RSS peak MiB", "growth MiB"],
                  [[number, d.rss_before / MIB, d.rss_peak / MIB, d.rss_growth / MIB]
                   for number, d in enumerate(hub_runs, 1)])
    growth = max(d.rss_growth for d in hub_runs) / MIB
    harness.verdict("peak RSS growth of the gunicorn processes (worst run)",
                    f"{growth:.1f} MiB", f"<= {RSS_GROWTH_LIMIT_MIB:.0f} MiB",
                    growth <= RSS_GROWTH_LIMIT_MIB)
    hub, direct = _median(downloads, "hub"), _median(downloads, "direct")
    ratio = hub / direct
    harness.verdict("hub / direct throughput (medians)",
                    f"{ratio:.2f}x ({hub:,.0f} / {direct:,.0f} MiB/s)",
                    f">= {THROUGHPUT_RATIO:.1f}x", ratio >= THROUGHPUT_RATIO)
    passed = _median(downloads, "pass-through")
    print(f"  info  hub / pass-through throughput (medians): {hub / passed:.2f}x; "
          f"pass-through / direct: {passed / direct:.2f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"))
    parser.add_argument("--mib", type=int, default=1024, help="file size in MiB")
    parser.add_argument("--runs", type=int, default=3, help="downloads per target")
    args = parser.parse_args()
    for backend in args.backend or ["sqlite"]:
        report(backend, args.mib, measure(backend, args.mib, args.runs))


if __name__ == "__main__":
    main()
