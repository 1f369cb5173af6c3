"""Prometheus metrics: requests by route and status, proxy upstream latency, token
refreshes and their failures, and the task queue's depth.

gunicorn runs several processes: when ``PROMETHEUS_MULTIPROC_DIR`` is set (the
committed gunicorn.conf.py sets it) every process writes its samples there and a
scrape adds them up, whichever process answers it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

REQUESTS = Counter("hub_http_requests_total", "HTTP requests answered, by route template and status",
                   ["route", "method", "status"])
REQUEST_SECONDS = Histogram("hub_http_request_duration_seconds",
                            "Time to the answer's headers, by route template", ["route", "method"])
UPSTREAM_SECONDS = Histogram("hub_proxy_upstream_seconds",
                             "Proxy: time until the upstream answered (or failed), by outcome",
                             ["outcome"])
TOKEN_REFRESHES = Counter("hub_token_refreshes_total",
                          "OAuth token refreshes by outcome (succeeded, reauth_required, failed, timeout)",
                          ["outcome"])
CONTENT_TYPE = CONTENT_TYPE_LATEST


def status_class(status: int | None) -> str:
    return "error" if status is None else f"{status // 100}xx"


@functools.lru_cache(maxsize=16)
def upstream_seconds(outcome: str):
    """``UPSTREAM_SECONDS``' series for an outcome (``status_class``), looked up once:
    ``.labels()`` checks and joins the label values on every call."""
    return UPSTREAM_SECONDS.labels(outcome)


class QueueDepth(Collector):
    """Read at scrape time: tasks waiting in the queue and scheduled for later."""

    def __init__(self, depth: Callable[[], tuple[int, int]]) -> None:
        self.depth = depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pending, scheduled = self.depth()
        family = GaugeMetricFamily("hub_queue_tasks", "Tasks in the task queue", labels=["state"])
        family.add_metric(["pending"], pending)
        family.add_metric(["scheduled"], scheduled)
        yield family


def exposition(depth: Callable[[], tuple[int, int]]) -> bytes:
    """The text a scrape gets: every process's samples plus the queue's depth."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Default())
    registry.register(QueueDepth(depth))
    return generate_latest(registry)


class _Default(Collector):
    """This process's own metrics (no multiprocess directory: one process serves)."""

    def collect(self):
        for metric in REGISTRY.collect():
            if metric.name.startswith("hub_"):
                yield metric
