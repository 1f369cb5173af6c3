"""Every answer is counted by route template, method and status, and timed by route
and method (integration_hub/edge/ops.py, docs/performance.md): the counts read back
from what a scrape sees."""

from __future__ import annotations

import time
import uuid

from integration_hub import metrics
from integration_hub.edge.ops import count_request
from tests.support.prometheus import sample


def scraped() -> str:
    return metrics.exposition(lambda: (0, 0)).decode()


def test_each_answer_counts_once_in_its_route_method_and_status():
    route = f"/test/{uuid.uuid4().hex}/<id>"
    started = time.monotonic()

    count_request(route, "GET", 200, started)
    count_request(route, "GET", 200, started)  # the second call uses the kept series
    count_request(route, "GET", 404, started)
    count_request(route, "POST", 200, None)
    text = scraped()

    assert sample(text, "hub_http_requests_total", route=route, method="GET", status="200") == 2
    assert sample(text, "hub_http_requests_total", route=route, method="GET", status="404") == 1
    assert sample(text, "hub_http_requests_total", route=route, method="POST", status="200") == 1
    assert sample(text, "hub_http_request_duration_seconds_count", route=route, method="GET") == 3
    # no start known: counted, not timed
    assert sample(text, "hub_http_request_duration_seconds_count", route=route,
                  method="POST") == 0


def test_the_counts_are_the_series_the_labels_name():
    route = f"/test/{uuid.uuid4().hex}"
    metrics.REQUESTS.labels(route, "GET", "503").inc()  # counted as before, by labels

    count_request(route, "GET", 503, time.monotonic())

    assert sample(scraped(), "hub_http_requests_total", route=route, method="GET",
                  status="503") == 2
