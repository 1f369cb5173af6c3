"""The task queue: huey, with SQLite storage on one machine and Redis across machines.

The web process only enqueues; ``integration-hub worker`` (started by ``serve`` when the
queue is the embedded SQLite one) consumes. Tasks run inside an application context
of the process that consumes them, so they use the same database, keys and settings.

Webhook deliveries have a queue of their own in the same storage, consumed by threads of
their own (``HUB_WEBHOOK_THREADS``): receivers that take their time never hold the
threads that run syncs, the scheduler's ticks and pruning (docs/security.md, "Slow
receivers").

Tasks hold ids, never data: the database says what a run is and whether it still
may run, so a task delivered twice or after its integration was deleted does nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Flask
from huey import Huey, SqliteHuey, crontab
from huey.api import TaskWrapper
from huey.consumer import Consumer

from integration_hub.audit import retention
from integration_hub.db.session import db_session
from integration_hub.db.types import utcnow
from integration_hub.outbound.upstream_http import shared_pool
from integration_hub.private_files import private_sqlite
from integration_hub.sync import control as sync_control
from integration_hub.sync import runs as sync
from integration_hub.sync import schedules as sync_schedules
from integration_hub.webhooks import delivery as webhook_delivery
from integration_hub.webhooks import events as webhook_events

QUEUE_NAME = "integration-hub"
WEBHOOK_LANE = ".webhooks"  # appended to the queue's name: the deliveries' queue
_EXTENSION = "integration_hub.queue"
log = logging.getLogger(__name__)


def make_huey(url: str, lane: str = "") -> Huey:
    """``sqlite:///<file>`` or ``redis://host:port/db``; on Redis, ``?queue=<name>`` lets
    several hubs share one server (default name: integration-hub). ``lane`` is appended to
    the name: a second queue in the same storage."""
    if url.startswith("sqlite:///"):
        filename = Path(url.removeprefix("sqlite:///"))
        private_sqlite(url)  # tasks name runs and deliveries: for the hub's account only
        return SqliteHuey(QUEUE_NAME + lane, filename=str(filename), results=False, utc=True)
    from huey import RedisHuey  # needs the redis package: pip install integration-hub[redis]

    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    name = next((value for key, value in query if key == "queue"), None) or QUEUE_NAME
    rest = urlencode([(key, value) for key, value in query if key != "queue"])
    return RedisHuey(name + lane, url=urlunsplit(parts._replace(query=rest)), results=False,
                     utc=True)


class _ConsumerWithLane(Consumer):
    """huey's consumer of the general queue, running the webhook queue's consumer beside
    it: started, health-checked and stopped together; signals are this one's."""

    def __init__(self, huey: Huey, lane: Consumer, **options) -> None:
        self.lane = lane
        super().__init__(huey, **options)

    def start(self) -> None:
        self.lane.start()
        super().start()  # its signal handlers replace the lane's

    def stop(self, graceful: bool = False) -> None:
        super().stop(graceful)
        self.lane.stop(graceful)  # a running attempt ends by its deadline

    def check_worker_health(self) -> bool:
        self.lane.check_worker_health()
        return super().check_worker_health()


@dataclass
class JobQueue:
    huey: Huey                     # syncs, the scheduler's ticks, the sweep, pruning
    webhooks: Huey                 # webhook deliveries, on threads of their own
    enqueue_sync: TaskWrapper      # calling it with a run id enqueues the run
    start_scheduled: TaskWrapper   # the minute tick (the consumer runs it by itself)
    deliver: TaskWrapper           # calling it with a delivery id enqueues an attempt
    sweep_deliveries: TaskWrapper  # the minute sweep for deliveries whose task was lost
    prune_logs: TaskWrapper        # the hourly pruning of the logs and of expired OAuth flows

    @property
    def queues(self) -> tuple[Huey, Huey]:
        return self.huey, self.webhooks

    def consumer(self, workers: int = 2, webhook_threads: int = 4) -> Consumer:
        lane = self.webhooks.create_consumer(workers=webhook_threads, worker_type="thread",
                                             periodic=False, check_worker_health=True)
        return _ConsumerWithLane(self.huey, lane, workers=workers, worker_type="thread",
                                 periodic=True, check_worker_health=True)

    @property
    def embedded(self) -> bool:
        return isinstance(self.huey, SqliteHuey)


def init_app(app: Flask) -> None:
    settings = app.config["HUB_SETTINGS"]
    huey = make_huey(settings.queue_url)
    webhooks = make_huey(settings.queue_url, WEBHOOK_LANE)

    @huey.task(name="sync.run")
    def run_sync(run_id: str) -> None:
        with app.app_context():
            sync.execute(db_session(), run_id, settings, shared_pool(settings.proxy_deny_private),
                         app.extensions["integration_hub.db"])

    @huey.periodic_task(crontab(), name="sync.start_scheduled")
    def start_scheduled() -> None:
        """Every minute: start the syncs whose schedule is due."""
        with app.app_context():
            for run_id in sync_schedules.start_due(db_session(), utcnow(), settings.sync_lease_seconds):
                run_sync(run_id)

    @webhooks.task(name="webhook.deliver")
    def deliver(delivery_id: str) -> None:
        with app.app_context():
            wait = webhook_delivery.attempt(db_session(), delivery_id, settings,
                                            shared_pool(settings.proxy_deny_private))
        if wait is not None:
            deliver.schedule((delivery_id,), delay=wait.total_seconds())

    @huey.periodic_task(crontab(), name="webhook.sweep")
    def sweep_deliveries() -> None:
        """Every minute: attempts that are overdue because their task was lost; every
        hour: forget finished deliveries past the retention."""
        now = utcnow()
        with app.app_context():
            for delivery_id in webhook_delivery.due(db_session(), now):
                deliver(delivery_id)
            if now.minute == 0:
                webhook_delivery.prune(db_session(), now, settings.webhook_retention_days)

    @huey.periodic_task(crontab(minute="30"), name="logs.prune")
    def prune_logs() -> None:
        """Every hour: forget audit entries and request-log rows past their retention, and
        OAuth flows a day past their expiry."""
        with app.app_context():
            retention.prune_logs(app.extensions["integration_hub.db"], settings, utcnow())

    app.extensions[_EXTENSION] = JobQueue(huey, webhooks, run_sync, start_scheduled, deliver,
                                          sweep_deliveries, prune_logs)
    app.extensions[webhook_events.DISPATCH_EXTENSION] = deliver
    app.extensions[sync_control.ENQUEUE_EXTENSION] = run_sync


def job_queue(app: Flask) -> JobQueue:
    return app.extensions[_EXTENSION]
