"""Benchmark 5: the records page filtered, sorted and grouped at 50,000 records
(docs/performance.md, "Record filters").

One model of 50,000 records (an order each: ``status`` one of five, ``amount`` a number,
``customer`` a name, ``region``, ``paid`` a boolean; some fields missing or null, as real
data has them) is seeded in bulk (SQLAlchemy Core inserts on SQLite, COPY on PostgreSQL,
then VACUUM ANALYZE) beside a second model of 50,000 that every request must skip. Each
request is timed over HTTP with wrk at concurrency 1 against the hub under its own
gunicorn settings, by a user with a read share; the requests take turns for a few rounds,
and the figures are the medians over the rounds:

- ``where``: ``(status,eq,open)~and(amount,gt,500)``, sorted ``-amount``, 50 a page;
- ``like``: ``(customer,like,%son%)~or(region,in,north,east)``, 50 a page;
- ``groups``: ``record-groups`` of ``status`` under ``(paid,eq,true)``.

Target: each p50 within the list benchmark's budget, 15 ms (docs/performance.md).

    python -m bench.record_filters [--backend sqlite|postgresql ...] [--records 50000]
        [--seconds 6] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from bench import harness
from integration_hub.db.models import IntegrationShare, Record

RECORDS = 50_000
BUDGET_MS = 15.0
BATCH = 10_000
STATUSES = ("open", "paid", "void", "late", "draft")
REGIONS = ("north", "east", "south", "west")
NAMES = ("Anderson", "Baker", "Carlson", "Dawson", "Evans", "Fischer", "Garcia", "Hudson",
         "Ivanova", "Jackson", "Kim", "Larsen", "Moreau", "Nakamura", "Olsen", "Peterson")
CALLER = "bench-reader"
QUERIES = {
    "where": ("records", {"model": "orders", "where": "(status,eq,open)~and(amount,gt,500)",
                          "sort": "-amount", "limit": 50}),
    "like": ("records", {"model": "orders", "limit": 50,
                         "where": "(customer,like,%son%)~or(region,in,north,east)"}),
    "groups": ("record-groups", {"model": "orders", "column": "status",
                                 "where": "(paid,eq,true)"}),
}


@dataclass
class Result:
    name: str
    url: str
    total: int
    load: harness.Load | None = None


def _orders(count: int, rng: random.Random, model: str, integration: str):
    now = datetime.now(UTC)
    for number in range(count):
        record_id = f"o-{number:06d}"
        data = {"id": record_id, "status": rng.choice(STATUSES),
                "amount": round(rng.uniform(0, 1000), 2),
                "customer": f"{rng.choice(NAMES)} {number % 997}",
                "region": rng.choice(REGIONS), "paid": rng.random() < 0.5}
        if number % 10 == 0:
            del data["region"]
        if number % 13 == 0:
            data["amount"] = None
        yield {"integration_id": integration, "model": model, "record_id": record_id,
               "data": data, "created_at": now, "updated_at": now}


def seed(app, count: int) -> tuple[str, str]:
    """An integration with ``count`` orders and as many other records, and a reader; returns
    (the integration's id, the reader's token)."""
    from integration_hub.db.session import transaction
    from integration_hub.identity import directory as identity
    from integration_hub.identity import tokens
    from integration_hub.integrations import store as integrations

    engine = app.extensions["integration_hub.db"].kw["bind"]
    with app.app_context(), transaction() as session:
        tenant = identity.ensure_tenant(session, app.config["HUB_SETTINGS"].default_tenant).id
        admin = identity.create_user(session, tenant, {"username": "bench-admin",
                                                       "superuser": True})
        reader = identity.create_user(session, tenant, {"username": CALLER})
        integration = integrations.create(session, admin, {
            "name": "Orders", "type": "custom", "auth_type": "none"})
        session.add(IntegrationShare(integration_id=integration.id, principal_id=CALLER,
                                     access_level=1))
        token = tokens.issue_token(session, reader, "bench").plain
        key = integration.id
    rng = random.Random(count)
    with engine.begin() as connection:
        for model in ("orders", "archive"):
            rows = []
            for row in _orders(count, rng, model, key):
                rows.append(row)
                if len(rows) == BATCH:
                    _write(connection, rows)
            _write(connection, rows)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE")
    return key, token


def _write(connection, rows: list[dict]) -> None:
    harness.write_rows(connection, Record.__table__, rows)
    rows.clear()


def check(url: str, token: str) -> int:
    """One answer, checked: 200 and something found; returns its total."""
    with harness.http() as client:
        answer = client.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    if answer.status_code != 200:
        raise SystemExit(f"GET {url} answered {answer.status_code}: {answer.text[:300]}")
    body = answer.json()
    if not body.get("count"):
        raise SystemExit(f"GET {url} found nothing: {answer.text[:300]}")
    return body["total"]


def measure(backend: str, count: int, seconds: float, rounds: int) -> list[Result]:
    with contextlib.ExitStack() as stack:
        hub = stack.enter_context(harness.hub_instance(backend))
        app = hub.app()
        started = time.monotonic()
        integration, token = seed(app, count)
        print(f"  seeded {2 * count:,} records on {backend} in "
              f"{time.monotonic() - started:.0f} s", flush=True)
        app.extensions["integration_hub.db"].kw["bind"].dispose()
        base = stack.enter_context(
            harness.gunicorn("wsgi:app", hub.env, hub.folder / "gunicorn.log"))
        auth = [f"Authorization: Bearer {token}"]
        results = []
        for name, (path, query) in QUERIES.items():
            url = f"{base}/api/integrations/{integration}/{path}?{urlencode(query)}"
            results.append(Result(name, url, check(url, token)))
            harness.wrk(url, 1, 1, auth)  # warm-up: pools, caches, the database's pages
        loads: dict[str, list[harness.Load]] = {result.name: [] for result in results}
        for _ in range(rounds):
            for result in results:
                loads[result.name].append(harness.wrk(result.url, 1, seconds / rounds, auth))
    for result in results:
        result.load = harness.median_load(loads[result.name])
    return results


def report(backend: str, count: int, results: list[Result]) -> None:
    harness.heading(f"records of one model at {count:,} (and {count:,} in another), hub "
                    f"database {backend} ({harness.WORKERS} gunicorn processes x "
                    f"{harness.THREADS} threads, concurrency 1)")
    harness.table(["backend", "request", "matching", "p50 ms", "p99 ms", "requests",
                   "failures"],
                  [[backend, r.name, r.total, r.load.p50_ms, r.load.p99_ms, r.load.requests,
                    r.load.failures] for r in results])
    for result in results:
        harness.verdict(f"{result.name} p50 at {count:,} records", f"{result.load.p50_ms:.2f} ms",
                        f"<= {BUDGET_MS:.0f} ms", result.load.p50_ms <= BUDGET_MS)
    harness.warn_of_failures(r.load for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"))
    parser.add_argument("--records", type=int, default=RECORDS)
    parser.add_argument("--seconds", type=float, default=6.0,
                        help="timed seconds per request, over all rounds (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for backend in args.backend or ["sqlite", "postgresql"]:
        report(backend, args.records, measure(backend, args.records, args.seconds, args.rounds))


if __name__ == "__main__":
    main()
