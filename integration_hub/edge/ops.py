"""Operations endpoints, outside the HAL API and without sign-in: liveness,
readiness (database reachable, schema at the latest migration) and metrics."""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, Flask, current_app, g, jsonify, request
from sqlalchemy import text

from integration_hub import errors, metrics
from integration_hub.config import current_settings
from integration_hub.db import migrations
from integration_hub.db.session import db_session
from integration_hub.queue import job_queue

bp = Blueprint("ops", __name__)
_HEADS = "integration_hub.migration_heads"


class NotReady(errors.HubError):
    status, code, title = 503, "not_ready", "The hub cannot serve yet"


@bp.get("/healthz")
def healthz():
    """The process is alive (nothing else is checked)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready for traffic: the database answers and its schema is at the latest migration."""
    try:
        current = set(db_session().execute(text("SELECT version_num FROM alembic_version")).scalars())
    except Exception:  # noqa: BLE001 - the reason stays in the log, never in the answer
        current_app.logger.warning("readiness: the database did not answer", exc_info=True)
        raise NotReady("the database is not reachable") from None
    try:
        expected = _heads()
    except RuntimeError as failure:  # no migration scripts next to the package
        raise NotReady(str(failure)) from None
    if current != expected:
        raise NotReady("the database schema is not at the latest migration; run "
                       "integration-hub db upgrade", current=sorted(current), expected=sorted(expected))
    return jsonify(status="ready", migration=sorted(current))


@bp.get("/metrics")
def metrics_text():
    """Prometheus metrics; only with ``Authorization: Bearer <HUB_METRICS_TOKEN>``."""
    token = current_settings().metrics_token
    if not token:
        raise errors.NotFound("metrics are off; set HUB_METRICS_TOKEN to switch them on")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise errors.AuthenticationRequired("metrics need the bearer token of HUB_METRICS_TOKEN")
    queues = job_queue(current_app).queues
    body = metrics.exposition(lambda: (sum(huey.pending_count() for huey in queues),
                                       sum(huey.scheduled_count() for huey in queues)))
    return current_app.response_class(body, mimetype=None,
                                      headers={"Content-Type": metrics.CONTENT_TYPE})


def _heads() -> set[str]:
    """The latest migration(s), read from the scripts once per process."""
    if _HEADS not in current_app.extensions:
        current_app.extensions[_HEADS] = set(
            migrations.heads(current_settings().database_url))
    return current_app.extensions[_HEADS]


# (route, method, status) -> the two labelled series a request counts into.
_SERIES: dict[tuple[str, str, int], tuple] = {}
_SERIES_KEPT = 4096  # beyond this (methods are the caller's), series are looked up each time


def count_request(route: str, method: str, status: int, started: float | None) -> None:
    """Count an answer in ``hub_http_requests_total`` and, when the request's start
    (``time.monotonic()``) is known, its time in ``hub_http_request_duration_seconds``.

    Called for every answer, by the Flask app and by the proxy's own path.
    prometheus_client's ``.labels()`` checks and joins the label values on every call;
    the series it returns are kept here, per process, after the first."""
    series = _SERIES.get((route, method, status))
    if series is None:
        series = (metrics.REQUESTS.labels(route, method, str(status)),
                  metrics.REQUEST_SECONDS.labels(route, method))
        if len(_SERIES) < _SERIES_KEPT:
            _SERIES[route, method, status] = series
    series[0].inc()
    if started is not None:
        series[1].observe(time.monotonic() - started)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.after_request
    def _count(response):
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        # g.request_started is set by integration_hub.edge.logs
        count_request(route, request.method, response.status_code, g.get("request_started"))
        return response
