"""Benchmark 3: listing integrations (docs/performance.md).

``GET /api/integrations?limit=50`` by a user who is no superuser, owns nothing and sees
integrations only through the shares of his 3 teams, on a hub holding 1,000, 10,000 and
100,000 integrations with 5 shares each on average (spread over 200 teams and 100 users),
so the visible fraction (1 in 14, ~7%) is the same at every size.

Each size gets a fresh hub instance, seeded in bulk (SQLAlchemy Core inserts on SQLite,
COPY on PostgreSQL) with rows in the shape the app writes (UUID ids, ``team:<slug>`` and
username principals), then VACUUM ANALYZE on PostgreSQL (what autovacuum does after a bulk
load; SQLite keeps no statistics unless told, like a deployed hub). The request is timed
over HTTP with wrk at concurrency 1 against the hub under its own gunicorn settings, every
size in turn for a few rounds (the figures are the medians over the rounds); the SQL
statements one request runs are counted in-process on the app's engine.

Targets: p50 <= 15 ms at 10,000 integrations and 50,000 shares; p50 at 100,000 <= 2 x p50
at 1,000.

    python -m bench.list_integrations [--backend sqlite|postgresql ...] [--sizes 1000,10000]
        [--seconds 6] [--rounds 3] [--show-sql]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import event, insert, text

from bench import harness
from integration_hub.db.models import Integration, IntegrationShare, Team, TeamMember, User

SIZES = (1_000, 10_000, 100_000)
LIMIT = 50
TEAMS, OWNERS = 200, 100
VISIBLE_EVERY = 14          # every 14th integration is shared with one of the caller's teams
CALLER_TEAMS = 3            # team-000 .. team-002
USER_SHARE_CHANCE = 0.1     # the other shares: 90% teams, 10% users
BATCH = 10_000
TYPES = (("github", "oauth2"), ("slack", "oauth2"), ("jira", "oauth2"), ("salesforce", "oauth2"),
         ("notion", "oauth2"), ("custom", "apikey"), ("stripe", "bearer"), ("zoom", "oauth2"))
WORDS = ("alpha", "billing", "crm", "data", "east", "finance", "growth", "hr", "inbox", "jobs",
         "kpi", "legal", "media", "north", "ops", "people", "quality", "reports", "sales",
         "support", "team", "users", "vendors", "west")
CALLER = "bench-reader"


@dataclass
class Result:
    integrations: int
    shares: int
    visible: int
    seed_seconds: float
    load: harness.Load | None
    statements: list[str]


# -- seeding ---------------------------------------------------------------------------------

def _rows(size: int, tenant: str, rng: random.Random) -> Iterator[tuple[dict, list[dict]]]:
    """Integration rows with their share rows, in the shape the app writes."""
    now = datetime.now(UTC)
    others = [f"team:team-{t:03d}" for t in range(CALLER_TEAMS, TEAMS)]
    users = [f"owner-{u:03d}" for u in range(OWNERS)]
    for number in range(size):
        kind, auth = TYPES[number % len(TYPES)]
        name = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {kind} {number}"
        key = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        integration = {
            "id": key, "tenant_id": tenant, "name": name, "slug": f"integration-{number}",
            "type": kind, "category": None, "description": f"Bench integration {number}",
            "mode": "per-user", "auth_type": auth, "enabled": True, "embedded": False,
            "basic_token_auth": False, "api_key_location": "header", "api_key_name": "X-API-Key",
            "headers": {}, "data": {}, "has_icon": False, "owner_id": users[number % OWNERS],
            "supports_upload": False, "created_at": now, "updated_at": now}
        count = 3 + number % 5  # 3..7, 5 on average
        principals: set[str] = set()
        if number % VISIBLE_EVERY == 0:
            principals.add(f"team:team-{(number // VISIBLE_EVERY) % CALLER_TEAMS:03d}")
        while len(principals) < count:
            pool = users if rng.random() < USER_SHARE_CHANCE else others
            principals.add(rng.choice(pool))
        shares = [{"integration_id": key, "principal_id": p, "access_level": 1 + len(p) % 2,
                   "created_at": now} for p in sorted(principals)]
        yield integration, shares


def seed(app, size: int) -> tuple[str, int, int]:
    """Users, teams and ``size`` integrations with their shares; returns (the caller's
    token, shares written, integrations the caller can read)."""
    from integration_hub.db.session import transaction
    from integration_hub.identity import directory as identity
    from integration_hub.identity import tokens

    engine = app.extensions["integration_hub.db"].kw["bind"]
    with app.app_context(), transaction() as session:
        tenant = identity.ensure_tenant(session, app.config["HUB_SETTINGS"].default_tenant).id
        caller = identity.create_user(session, tenant, {"username": CALLER,
                                                        "email": "reader@example.com"})
        token = tokens.issue_token(session, caller, "bench").plain
        caller_id = caller.id
    now = datetime.now(UTC)
    rng = random.Random(size)
    shares = 0
    with engine.begin() as connection:
        connection.execute(insert(User), [
            {"tenant_id": tenant, "username": f"owner-{u:03d}", "display_name": f"Owner {u}",
             "email": f"owner-{u:03d}@example.com", "fields": {}, "permissions": [],
             "superuser": False, "enabled": True, "created_at": now, "updated_at": now}
            for u in range(OWNERS)])
        connection.execute(insert(Team), [
            {"tenant_id": tenant, "slug": f"team-{t:03d}", "name": f"Team {t}",
             "description": "", "created_at": now, "updated_at": now} for t in range(TEAMS)])
        team_ids = dict(connection.execute(text("SELECT slug, id FROM teams")).all())
        user_ids = dict(connection.execute(text("SELECT username, id FROM users")).all())
        members = [{"team_id": team_ids[f"team-{t:03d}"], "user_id": caller_id, "role": "member"}
                   for t in range(CALLER_TEAMS)]
        members += [{"team_id": team_ids[f"team-{(u * 7 + k) % TEAMS:03d}"],
                     "user_id": user_ids[f"owner-{u:03d}"], "role": "member"}
                    for u in range(OWNERS) for k in (0, 1)]
        connection.execute(insert(TeamMember), members)
        integrations, share_rows = [], []
        for integration, its_shares in _rows(size, tenant, rng):
            integrations.append(integration)
            share_rows.extend(its_shares)
            if len(integrations) == BATCH:
                shares += _flush(connection, integrations, share_rows)
        shares += _flush(connection, integrations, share_rows)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE")
    return token, shares, -(-size // VISIBLE_EVERY)


def _flush(connection, integrations: list[dict], shares: list[dict]) -> int:
    written = len(shares)
    if integrations:
        harness.write_rows(connection, Integration.__table__, integrations)
        harness.write_rows(connection, IntegrationShare.__table__, shares)
    integrations.clear()
    shares.clear()
    return written


# -- measuring -------------------------------------------------------------------------------

def count_statements(app, token: str) -> list[str]:
    """The SQL statements one list request runs, seen by the app's engine."""
    engine = app.extensions["integration_hub.db"].kw["bind"]
    seen: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany):
        seen.append(" ".join(statement.split()))

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    requests_log = logging.getLogger("integration_hub.requests")
    level = requests_log.level
    requests_log.setLevel(logging.WARNING)  # keep the request log lines out of the report
    try:
        client.get(f"/api/integrations?limit={LIMIT}", headers=headers)  # warm-up: caches, token
        event.listen(engine, "before_cursor_execute", record)
        try:
            answer = client.get(f"/api/integrations?limit={LIMIT}", headers=headers)
        finally:
            event.remove(engine, "before_cursor_execute", record)
    finally:
        requests_log.setLevel(level)
    if answer.status_code != 200:
        raise SystemExit(f"in-process list answered {answer.status_code}: {answer.text[:300]}")
    return seen


def check(url: str, token: str, visible: int) -> int:
    """One answer, checked: 200, a full page, the expected total; returns the total."""
    with harness.http() as client:
        answer = client.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    if answer.status_code != 200:
        raise SystemExit(f"GET {url} answered {answer.status_code}: {answer.text[:300]}")
    body = answer.json()
    items = body.get("_embedded", {}).get("inf:integration", [])
    if len(items) != min(LIMIT, visible) or body.get("total") != visible:
        raise SystemExit(f"GET {url}: {len(items)} items, total {body.get('total')}; "
                         f"expected {min(LIMIT, visible)} and {visible}")
    return body["total"]


def measure(backend: str, sizes: list[int], seconds: float, rounds: int) -> list[Result]:
    """Every size on its own hub instance and gunicorn, all up at once, then timed in
    ``rounds`` interleaved rounds (p50 and p99: the median over the rounds), so a passing
    slowdown of the machine weighs on every size alike."""
    with contextlib.ExitStack() as stack:
        targets = []
        for size in sizes:
            hub = stack.enter_context(harness.hub_instance(backend))
            app = hub.app()
            started = time.monotonic()
            token, shares, visible = seed(app, size)
            seeded = time.monotonic() - started
            statements = count_statements(app, token)
            app.extensions["integration_hub.db"].kw["bind"].dispose()
            base = stack.enter_context(
                harness.gunicorn("wsgi:app", hub.env, hub.folder / "gunicorn.log"))
            url = f"{base}/api/integrations?limit={LIMIT}"
            auth = [f"Authorization: Bearer {token}"]
            visible = check(url, token, visible)
            harness.wrk(url, 1, 1, auth)  # warm-up: pools, caches, the database's pages
            targets.append((Result(size, shares, visible, seeded, None, statements), url, auth))
        loads: dict[int, list[harness.Load]] = {size: [] for size in sizes}
        for _ in range(rounds):
            for result, url, auth in targets:
                loads[result.integrations].append(harness.wrk(url, 1, seconds / rounds, auth))
    for result, _, _ in targets:
        result.load = harness.median_load(loads[result.integrations])
    return [result for result, _, _ in targets]


def report(backend: str, results: list[Result], show_sql: bool) -> None:
    harness.heading(f"GET /api/integrations?limit={LIMIT}, hub database {backend} "
                    f"({harness.WORKERS} gunicorn processes x {harness.THREADS} threads, "
                    f"concurrency 1)")
    harness.table(["backend", "integrations", "shares", "visible", "p50 ms", "p99 ms",
                   "statements", "requests", "failures", "seed s"],
                  [[backend, r.integrations, r.shares, r.visible, r.load.p50_ms, r.load.p99_ms,
                    len(r.statements), r.load.requests, r.load.failures, r.seed_seconds]
                   for r in results])
    if show_sql:
        for r in results:
            print(f"\n  statements of one request at {r.integrations:,} integrations:")
            for number, statement in enumerate(r.statements, 1):
                print(f"  {number:3}. {statement}")
    by_size = {r.integrations: r for r in results}
    if 10_000 in by_size:
        p50 = by_size[10_000].load.p50_ms
        harness.verdict("p50 at 10,000 integrations", f"{p50:.2f} ms", "<= 15 ms", p50 <= 15.0)
    if 1_000 in by_size and 100_000 in by_size:
        ratio = by_size[100_000].load.p50_ms / by_size[1_000].load.p50_ms
        harness.verdict("p50 at 100,000 / p50 at 1,000", f"{ratio:.2f}x", "<= 2.00x",
                        ratio <= 2.0)
    harness.warn_of_failures(r.load for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"))
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="comma-separated integration counts (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=6.0,
                        help="timed seconds per size, over all rounds (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds over the sizes (default %(default)s)")
    parser.add_argument("--show-sql", action="store_true",
                        help="print the statements one request runs")
    args = parser.parse_args()
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size.strip()]
    for backend in args.backend or ["sqlite", "postgresql"]:
        report(backend, measure(backend, sizes, args.seconds, args.rounds), args.show_sql)


if __name__ == "__main__":
    main()
