"""Streaming through the proxy under gunicorn: 200 MiB each way, memory flat.

The hub worker's peak resident memory (VmHWM) may not grow with the body: a
generous bound here; the precise figure belongs to the benchmarks.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.e2e.test_refresh_across_processes import gunicorn, http_session
from tests.support.upstream import big_sha256, start_upstream

SIZE = 200 * 1024 * 1024
CHUNK = 1024 * 1024
RSS_GROWTH_BOUND = 64 * 1024 * 1024


@pytest.fixture(scope="session", params=["sqlite"])
def backend(request) -> str:
    """Streaming does not depend on the database: one backend is enough."""
    return request.param


def worker_pids(master_pid: int) -> list[int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return [int(pid) for pid in children.read_text().split()]


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_200_mib_each_way_with_flat_memory(migrated_app, app, make_caller, make_integration,
                                           tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_PROXY_MAX_BODY", str(512 * 1024 * 1024))  # gunicorn's environment
    upstream = start_upstream()
    try:
        caller = make_caller("streamer")
        integration = make_integration("Big files", type="custom", auth_type="apikey",
                                       mode="per-user", api_base_uri=f"{upstream.url}/files",
                                       api_key="stream-key-123", shares={"streamer": 1})
        upstream.respond("/files/download", {"big": SIZE})
        with gunicorn(migrated_app.config["HUB_SETTINGS"], tmp_path) as server, \
                http_session() as http:
            base = f"{server.url}/api/integrations/{integration}/request"
            http.get(f"{base}/warm-up", headers=caller.headers, timeout=30)
            before = {pid: peak_rss(pid) for pid in worker_pids(server.process.pid)}

            def chunks():
                for index in range(SIZE // CHUNK):
                    yield bytes([index % 251]) * CHUNK

            expected_up = hashlib.sha256()
            for chunk in chunks():
                expected_up.update(chunk)
            uploaded = http.put(f"{base}/upload", data=chunks(), timeout=120, headers={
                **caller.headers, "Content-Type": "application/octet-stream"})
            assert uploaded.status_code == 200, uploaded.text[:500]

            digest, received = hashlib.sha256(), 0
            with http.get(f"{base}/download", headers=caller.headers, stream=True,
                          timeout=120) as download:
                assert download.status_code == 200
                for chunk in download.iter_content(CHUNK):
                    digest.update(chunk)
                    received += len(chunk)
            after = {pid: peak_rss(pid) for pid in worker_pids(server.process.pid)}

        upload = [r for r in upstream.requests() if r.path == "/files/upload"]
        assert len(upload) == 1
        assert upload[0].body_size == SIZE and upload[0].body_sha256 == expected_up.hexdigest()
        assert upload[0].header("X-API-Key") == "stream-key-123"
        assert received == SIZE and digest.hexdigest() == big_sha256(SIZE)
        growth = max(after[pid] - before.get(pid, after[pid]) for pid in after)
        assert growth < RSS_GROWTH_BOUND, f"a worker's peak memory grew by {growth / 2**20:.0f} MiB"
    finally:
        upstream.stop()
