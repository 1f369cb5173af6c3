"""gunicorn settings; every value can be overridden from the environment.

Threads rather than many processes: the hub's work is waiting on upstreams and
the database, so a few processes with several threads each keep memory low
while serving many slow proxied calls at once. See docs/deployment.md.
"""

import gc
import os
import shutil
import tempfile

# The HUB_* variables, their defaults and their checks are the settings table's
# (integration_hub/config/table.py); reading them loads none of the app, since
# prometheus_client must see PROMETHEUS_MULTIPROC_DIR (below) before the hub loads it.
from integration_hub.config import serving_settings

hub = serving_settings()
# `integration-hub serve` passes this address as --bind (integration_hub/edge/serving.py reads
# it for serve and the demo alike).
bind = hub.bind
workers = hub.workers
worker_class = "gthread"
threads = hub.threads
timeout = hub.worker_timeout
graceful_timeout = 30
keepalive = 5
# Trust X-Forwarded-* only from these addresses (nginx on the same machine by default);
# the app's ProxyFix applies HUB_TRUSTED_PROXIES hops on top.
forwarded_allow_ips = hub.forwarded_allow_ips
# The hub logs every request itself (with its request id); gunicorn's own access log is
# off unless HUB_ACCESS_LOG names a file (or - for stdout).
accesslog = hub.access_log
errorlog = "-"

# Every worker process writes its metrics into this directory; a scrape of /metrics
# adds them up. It is emptied when gunicorn starts, and a dead worker's gauges go.
metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    os.path.join(tempfile.gettempdir(), f"integration-hub-metrics-{os.getpid()}"))


def on_starting(server):
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, exist_ok=True)


def post_worker_init(worker):
    """Freeze what the worker holds once the app is loaded (modules, routes, schemas,
    the settings: tens of thousands of objects that live as long as the process).

    The app is loaded in each worker after the fork (no ``preload_app``), so this runs
    there rather than in the master. Python's oldest-generation collection walks every
    tracked object each time it runs, and a request that triggers it waits for the
    walk: a few milliseconds that show in the p99, not the p50. ``gc.freeze()`` moves
    the objects alive now into a generation the collector never walks; garbage made
    while loading is collected first so it is not kept for good."""
    gc.collect()
    gc.freeze()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    shutil.rmtree(metrics_dir, ignore_errors=True)
