"""Benchmark 5: importing a large records file.

A CSV file of ``--rows`` rows (1,000,000 by default, about 60 MiB) is uploaded with curl,
streamed from disk, to ``POST /api/integrations/{id}/import`` on a hub in production mode
(``HUB_IMPORT_MAX_BYTES`` raised to take it), twice: into an empty model (every row
created), then the same file with every tenth row changed (a tenth updated, the rest
unchanged). For each import it reports:

- the peak growth of the resident memory of the gunicorn master and its workers over the
  value just before the upload, sampled every 20 ms;
- how long other writers waited while the import ran. Probes try to write again and again:
  on SQLite ``BEGIN IMMEDIATE`` (the database's one write lock), once retrying every
  millisecond (the longest wait is then the longest time the import held the lock, to a
  millisecond) and once with SQLite's own busy handler and a 30 s timeout, as the hub's
  writers wait; on PostgreSQL ``SELECT ... FOR NO KEY UPDATE`` of the integration's row
  (what another import, a sync or a change of the integration waits for), which waits in
  the server's queue;
- the import's own time and answer.

On PostgreSQL the records are analysed after each import, as autovacuum would after a
bulk load, so that the next one is planned with statistics.

There are no targets: the figures are compared with those in docs/performance.md.

    python -m bench.import_records [--backend sqlite|postgresql ...] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import harness
from bench.proxy_throughput import bearer
from bench.streaming import MIB, PeakRss

PROBE_PAUSE = 0.005  # between two probes' writes


@dataclass
class Probe:
    """Another writer, trying again and again while the import runs."""

    name: str
    longest: float = 0.0
    attempts: int = 0
    failures: int = 0
    errors: list[str] = field(default_factory=list)


def _sqlite_probe(path: str, probe: Probe, done: threading.Event, retry: float | None) -> None:
    """``retry``: seconds between tries of a lock-free ``BEGIN IMMEDIATE`` (None: SQLite's
    busy handler with a 30 s timeout, like the hub's own connections)."""
    connection = sqlite3.connect(path, timeout=0 if retry else 30, isolation_level=None)
    try:
        while not done.is_set():
            started = time.monotonic()
            while True:
                try:
                    connection.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as problem:
                    if retry is None:
                        probe.failures += 1
                        probe.errors.append(str(problem))
                        started = None
                        break
                    if done.is_set():
                        return
                    time.sleep(retry)
            if started is not None:
                probe.longest = max(probe.longest, time.monotonic() - started)
                probe.attempts += 1
                connection.execute("ROLLBACK")
            done.wait(PROBE_PAUSE)
    finally:
        connection.close()


def _postgres_probe(url: str, integration: str, probe: Probe, done: threading.Event) -> None:
    import psycopg

    with psycopg.connect(url) as connection:
        while not done.is_set():
            started = time.monotonic()
            connection.execute("SELECT 1 FROM integrations WHERE id = %s FOR NO KEY UPDATE",
                               (integration,))
            probe.longest = max(probe.longest, time.monotonic() - started)
            probe.attempts += 1
            connection.rollback()
            done.wait(PROBE_PAUSE)


@dataclass
class Import:
    name: str
    seconds: float
    status: int
    answer: dict
    rss_before: int
    rss_peak: int
    probes: list[Probe]

    @property
    def rss_growth(self) -> int:
        return self.rss_peak - self.rss_before


def write_csv(path: Path, rows: int, changed_every: int = 0) -> int:
    """The benchmark's file: five columns, ids r0000000...; returns its size."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("id,name,email,amount,note\n")
        for start in range(0, rows, 10_000):
            lines = []
            for n in range(start, min(rows, start + 10_000)):
                amount = n % 10_000 + (1 if changed_every and n % changed_every == 0 else 0)
                lines.append(f"r{n:07d},Customer {n},customer{n}@example.org,"
                             f"{amount}.{n % 100:02d},note {n % 97}\n")
            out.write("".join(lines))
    return path.stat().st_size


def analyze(url: str) -> None:
    """What autovacuum does after a bulk load (the test server runs without it), so that
    the next import is planned with statistics of the records."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("ANALYZE records")


def upload(base: str, token: str, integration: str, path: Path) -> tuple[int, dict, float]:
    command = [harness.need("curl", "curl"), "-s", "--noproxy", "*", "--max-time", "1800",
               "-H", f"Authorization: Bearer {token}",
               "-F", f"resources_file=@{path};type=text/csv", "-F", "model=resources",
               "-w", "\n%{http_code} %{time_total}",
               f"{base}/api/integrations/{integration}/import"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    body, _, status_line = done.stdout.rpartition("\n")
    try:
        status, seconds = status_line.split()
        answer = json.loads(body) if body else {}
    except ValueError:
        sys.exit(f"curl failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr}")
    return int(status), answer, float(seconds)


def probes_for(hub: harness.Hub, backend: str, integration: str,
               done: threading.Event) -> tuple[list[Probe], list[threading.Thread]]:
    if backend == "sqlite":
        path = hub.database_url.removeprefix("sqlite:///")
        probes = [Probe("writer retrying every 1 ms (longest lock hold)"),
                  Probe("writer with SQLite's busy handler, 30 s")]
        targets = [(_sqlite_probe, (path, probes[0], done, 0.001)),
                   (_sqlite_probe, (path, probes[1], done, None))]
    else:
        probes = [Probe("FOR NO KEY UPDATE of the integration (queued)")]
        targets = [(_postgres_probe, (hub.database_url, integration, probes[0], done))]
    threads = [threading.Thread(target=target, args=args, daemon=True)
               for target, args in targets]
    return probes, threads


def run_import(name: str, hub: harness.Hub, backend: str, base: str, master: int, token: str,
               integration: str, path: Path) -> Import:
    time.sleep(0.5)  # let the workers settle before the baseline sample
    before = harness.process_tree_rss(master)
    done = threading.Event()
    probes, threads = probes_for(hub, backend, integration, done)
    for thread in threads:
        thread.start()
    with PeakRss(master) as rss:
        status, answer, seconds = upload(base, token, integration, path)
    done.set()
    for thread in threads:
        thread.join(60)
    return Import(name, seconds, status, answer, before, rss.peak, probes)


def measure(backend: str, rows: int) -> tuple[int, list[Import]]:
    imports = []
    with tempfile.TemporaryDirectory(prefix="hub-bench-import-") as scratch, \
            harness.hub_instance(backend) as hub:
        first, second = Path(scratch) / "records.csv", Path(scratch) / "records-changed.csv"
        size = write_csv(first, rows)
        write_csv(second, rows, changed_every=10)
        hub.cli("create-user", "ada", "--superuser", "--email", "ada@example.com")
        token = hub.cli("create-token", "ada").split()[-1]
        env = {**hub.env, "HUB_IMPORT_MAX_BYTES": str(max(size, 1) * 2)}
        log = hub.folder / "gunicorn.log"
        with harness.gunicorn_process("wsgi:app", env, log) as (base, master), \
                harness.http() as client:
            created = client.post(f"{base}/api/integrations", headers=bearer(token), json={
                "name": "Bench import", "type": "custom", "authType": "none"})
            if created.status_code != 201:
                sys.exit(f"creating the integration: {created.status_code} {created.text[:500]}")
            integration = created.json()["id"]
            for name, path in (("new rows", first), ("1 in 10 changed", second)):
                imports.append(run_import(name, hub, backend, base, master.pid, token,
                                          integration, path))
                if imports[-1].status != 200:
                    print(f"  the import answered {imports[-1].status}: "
                          f"{json.dumps(imports[-1].answer)[:500]}\n{harness.tail(log)}")
                if backend == "postgresql":
                    analyze(hub.database_url)
    return size, imports


def report(backend: str, rows: int, size: int, imports: list[Import]) -> None:
    harness.heading(f"importing {rows:,} CSV rows ({size / MIB:,.1f} MiB), hub database "
                    f"{backend} ({harness.WORKERS} gunicorn processes x {harness.THREADS} "
                    f"threads)")
    harness.table(
        ["import", "status", "created", "updated", "seconds", "RSS growth MiB"],
        [[i.name, i.status, i.answer.get("created", "-"), i.answer.get("updated", "-"),
          f"{i.seconds:.1f}", i.rss_growth / MIB] for i in imports])
    print()
    harness.table(["import", "other writer", "longest wait s", "writes", "failed"],
                  [[i.name, p.name, f"{p.longest:.3f}", p.attempts, p.failures]
                   for i in imports for p in i.probes])
    for i in imports:
        for p in i.probes:
            for error in sorted(set(p.errors)):
                print(f"  {i.name}, {p.name}: {error}")
    print(f"  (load average over the last minute when done: {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} CPUs)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    for backend in args.backend or ["sqlite", "postgresql"]:
        size, imports = measure(backend, args.rows)
        report(backend, args.rows, size, imports)


if __name__ == "__main__":
    main()
