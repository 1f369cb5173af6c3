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
import random
import re
import threading
import time
from collections.abc import Callable
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
    """The caller's id when it is a printable token of at most 128 characters, else a new one:
    32 random hex digits, as a UUID's hex. It names a request, it guards nothing, so it comes
    from the process's own generator (reseeded in each forked worker) rather than from the
    system's (a system call on every request)."""
    if value and _SANE_ID.match(value):
        return value
    return f"{random.getrandbits(128):032x}"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


_ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "remote_addr")


def _json_value(value: str | int | None) -> str:
    """``value`` as the formatter's encoder writes it (a string, an int or None)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return _json_string(value)
    return str(int(value))


_json_string = json.encoder.encode_basestring  # the encoder's own, with ensure_ascii=False


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
        for name in _ACCESS_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self._encode(entry)

    def access(self, created: float, method: str, path: str, status: int,
               duration_ms: int | None, remote_addr: str | None, request_id: str) -> str:
        """The line ``format`` writes for an access record with these fields, written out
        directly (tests/unit/test_access_lines.py compares the two)."""
        return (f'{{"time": "{self._time(created)}", "level": "INFO", '
                f'"logger": {_json_string(log.name)}, '
                f'"message": {_json_string(f"{method} {path} {status}")}, '
                f'"request_id": {_json_value(request_id)}, "method": {_json_value(method)}, '
                f'"path": {_json_value(path)}, "status": {_json_value(status)}, '
                f'"duration_ms": {_json_value(duration_ms)}, '
                f'"remote_addr": {_json_value(remote_addr)}}}')

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
    handler = _HubHandler()
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


class _HubHandler(logging.StreamHandler):
    """The hub's handler: a stream handler that can also take a line already formatted."""

    def write_line(self, line: str, record: Callable[[], logging.LogRecord]) -> None:
        """What ``emit`` does with the formatted ``line`` (``record`` makes the record only
        for ``handleError``, should the write fail)."""
        with self.lock:
            try:
                self.stream.write(line + self.terminator)
                self.flush()
            except Exception:  # noqa: BLE001 - as StreamHandler.emit
                self.handleError(record())


def _sole_json_handler() -> _HubHandler | None:
    """The hub's handler when it is the only one an access record would reach, with its
    JSON formatter and filter and nothing else (checked on every call: a handler added to
    any logger above, or a filter, sends the record through ``Logger.handle`` again)."""
    logger = log
    while logger.parent is not None:
        if logger.handlers or logger.filters or not logger.propagate:
            return None
        logger = logger.parent
    if len(logger.handlers) != 1:
        return None
    handler = logger.handlers[0]
    if (type(handler) is not _HubHandler or type(handler.formatter) is not JsonFormatter
            or handler.level > logging.INFO or len(handler.filters) != 1
            or type(handler.filters[0]) is not RequestIdFilter):
        return None
    return handler


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
    (``Logger.info`` would also look up the caller's frame and rebuild every field). When
    the hub's JSON handler is the only one, the line is written to it directly: the same
    line, without a record and the handlers' layers."""
    if not log.isEnabledFor(logging.INFO):
        return
    path = _printable(path)
    handler = _sole_json_handler()
    created = time.time()
    if handler is None:
        log.handle(_access_record(created, method, path, status, duration_ms, remote_addr,
                                  request_id))
        return
    line = handler.formatter.access(created, method, path, status, duration_ms, remote_addr,
                                    request_id)
    handler.write_line(line, lambda: _access_record(created, method, path, status, duration_ms,
                                                    remote_addr, request_id))


def _access_record(created: float, method: str, path: str, status: int,
                   duration_ms: int | None, remote_addr: str | None,
                   request_id: str) -> logging.LogRecord:
    record = logging.LogRecord.__new__(logging.LogRecord)
    fields = record.__dict__
    fields.update(_TEMPLATE)
    thread = threading.current_thread()
    fields.update(
        created=created, msecs=int((created - int(created)) * 1000) + 0.0,
        relativeCreated=_TEMPLATE["relativeCreated"] + (created - _TEMPLATE["created"]) * 1000,
        thread=thread.ident, threadName=thread.name, process=os.getpid(),
        args=(method, path, status), request_id=request_id, method=method, path=path,
        status=status, duration_ms=duration_ms, remote_addr=remote_addr)
    return record


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
