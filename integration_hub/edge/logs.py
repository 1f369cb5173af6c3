"""Logs and request ids: one JSON object per line in production (plain text in
development), each naming the request it belongs to.

A request's id is the caller's (or nginx's) ``X-Request-ID`` when it is a sane
token, else a new one; the answer echoes it, so a user can quote it and an
operator can find every line of that request.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

from integration_hub.config import LogSettings

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:@+=/-]{1,128}$")
_HANDLER_MARK = "integration_hub_handler"
log = logging.getLogger("integration_hub.requests")


def _printable(text: str) -> str:
    if text.isprintable():  # nearly every path: no copy
        return text
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
    """One JSON object per line. Every request writes one, so the encoder is made once and
    the time's seconds are formatted once per second (the line is the same as
    ``datetime.isoformat(timespec="milliseconds")`` in UTC with a ``Z``)."""

    _encode = json.JSONEncoder(ensure_ascii=False).encode
    _second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self._time(record.created),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                 "request_id": getattr(record, "request_id", None)}
        for name in ("method", "path", "status", "duration_ms", "remote_addr"):
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self._encode(entry)

    def _time(self, created: float) -> str:
        whole = int(created)
        second, text = self._second
        if second != whole:
            text = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = (whole, text)  # one assignment: threads see either pair whole
        return f"{text}.{int((created - whole) * 1000):03d}Z"


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


def _record_template() -> dict:
    """The fields every access record shares, taken once from a real record, so a line
    costs a dict copy instead of ``LogRecord.__init__`` (file name, module, process name
    and thread name worked out again for each request)."""
    record = log.makeRecord(log.name, logging.INFO, __file__, 0, "%s %s %s", (), None,
                            func="access_line")
    return dict(record.__dict__)


_TEMPLATE = _record_template()


def access_line(method: str, path: str, status: int, duration_ms: int | None,
                remote_addr: str | None, request_id: str) -> None:
    """The request's access line on ``integration_hub.requests``: method, path, status,
    duration, caller address and request id, through the logging handlers like every
    other line (filters, the formatter of the hub's handler, any handler added to the
    root logger). Only the path is logged (query strings may carry data), control
    characters escaped so a caller cannot start a forged line in the text format.

    Called for every answer, by the Flask app and by the proxy's own path: when INFO is
    off for the logger nothing is built; otherwise the record is filled from a template
    (``Logger.info`` would also look up the caller's frame and rebuild every field)."""
    if not log.isEnabledFor(logging.INFO):
        return
    path = _printable(path)
    record = logging.LogRecord.__new__(logging.LogRecord)
    fields = record.__dict__
    fields.update(_TEMPLATE)
    created = time.time()
    thread = threading.current_thread()
    fields.update(
        created=created, msecs=int((created - int(created)) * 1000) + 0.0,
        relativeCreated=_TEMPLATE["relativeCreated"] + (created - _TEMPLATE["created"]) * 1000,
        thread=thread.ident, threadName=thread.name, process=os.getpid(),
        args=(method, path, status), request_id=request_id, method=method, path=path,
        status=status, duration_ms=duration_ms, remote_addr=remote_addr)
    log.handle(record)


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_request() -> None:
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.request_started = time.monotonic()

    @app.after_request
    def _finish_request(response):
        request_id = g.get("request_id") or request_id_from(None)
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("request_started")
        duration_ms = int((time.monotonic() - started) * 1000) if started else None
        access_line(request.method, request.path, response.status_code, duration_ms,
                    request.remote_addr, request_id)
        return response
