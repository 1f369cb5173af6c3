"""Logs and request ids: one JSON object per line in production (plain text in
development), each naming the request it belongs to.

A request's id is the caller's (or nginx's) ``X-Request-ID`` when it is a sane
token, else a new one; the answer echoes it, so a user can quote it and an
operator can find every line of that request.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

from integration_hub.config import LogSettings

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:@+=/-]{1,128}$")
_HANDLER_MARK = "integration_hub_handler"
log = logging.getLogger("integration_hub.requests")


def printable(text: str) -> str:
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode()
                   for char in text)


def request_id_from(value: str | None) -> str:
    """The caller's id when it is a printable token of at most 128 characters, else a new one."""
    if value and _SANE_ID.match(value):
        return value
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
                 .replace("+00:00", "Z"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                 "request_id": getattr(record, "request_id", None)}
        for name in ("method", "path", "status", "duration_ms", "remote_addr"):
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


QUIET_LOGGERS = ("urllib3", "requests_oauthlib", "authlib")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def configure_logging(settings: LogSettings) -> None:
    """One handler of the hub's on the root logger (replaced when an app is made again)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json"
                         else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # urllib3 logs every upstream request line at DEBUG, query string and all: an API
    # key placed in the query would reach the log. Its warnings are enough.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_request() -> None:
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.request_started = time.monotonic()

    @app.after_request
    def _finish_request(response):
        response.headers[REQUEST_ID_HEADER] = g.get("request_id") or request_id_from(None)
        started = g.get("request_started")
        duration_ms = int((time.monotonic() - started) * 1000) if started else None
        # The path only (query strings may carry data), control characters escaped so a
        # caller cannot start a forged line in the text format.
        path = printable(request.path)
        log.info("%s %s %s", request.method, path, response.status_code,
                 extra={"method": request.method, "path": path,
                        "status": response.status_code, "duration_ms": duration_ms,
                        "remote_addr": request.remote_addr})
        return response
