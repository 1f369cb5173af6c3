"""The access line of every answer (integration_hub/edge/logs.py): through the logging
handlers, one JSON object per line or plain text, with the fields it always had and
control characters escaped so a caller cannot forge a line."""

from __future__ import annotations

import io
import json
import logging

import pytest

from integration_hub.edge import logs


@pytest.fixture
def lines(request):
    """What a handler on the root logger, formatted as the hub's (``json`` or ``text``),
    receives from ``integration_hub.requests``."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RequestIdFilter())
    handler.setFormatter(logs.JsonFormatter() if request.param == "json"
                         else logging.Formatter(logs.TEXT_FORMAT))
    root = logging.getLogger()
    level = logs.log.level
    root.addHandler(handler)
    logs.log.setLevel(logging.INFO)
    try:
        yield lambda: stream.getvalue().splitlines()
    finally:
        root.removeHandler(handler)
        logs.log.setLevel(level)


@pytest.mark.parametrize("lines", ["json"], indirect=True)
def test_a_json_line_has_the_fields_it_always_had(lines):
    logs.access_line("GET", "/api/integrations", 200, 7, "192.0.2.10", "trace-42")

    [line] = lines()
    entry = json.loads(line)
    assert set(entry) == {"time", "level", "logger", "message", "request_id", "method",
                          "path", "status", "duration_ms", "remote_addr"}
    assert entry["time"].endswith("Z") and len(entry["time"]) == len("2026-01-01T00:00:00.000Z")
    assert (entry["level"], entry["logger"]) == ("INFO", "integration_hub.requests")
    assert entry["message"] == "GET /api/integrations 200"
    assert (entry["request_id"], entry["method"], entry["path"], entry["status"],
            entry["duration_ms"], entry["remote_addr"]) == (
        "trace-42", "GET", "/api/integrations", 200, 7, "192.0.2.10")


@pytest.mark.parametrize("lines", ["json", "text"], indirect=True)
def test_control_characters_in_the_path_are_escaped(lines):
    logs.access_line("GET", "/api/x\r\nERROR forged\x1b[2J", 404, None, None, "r-1")

    [line] = lines()
    assert "\x1b" not in line and "ERROR forged" in line
    assert "/api/x\\r\\nERROR forged\\x1b[2J" in (json.loads(line)["path"] if line.startswith("{")
                                                  else line)


@pytest.mark.parametrize("lines", ["text"], indirect=True)
def test_a_text_line_names_the_request(lines):
    logs.access_line("POST", "/api/integrations", 201, 3, "192.0.2.10", "trace-43")

    [line] = lines()
    assert line.endswith(" INFO integration_hub.requests [trace-43] POST /api/integrations 201")


@pytest.mark.parametrize("lines", ["json"], indirect=True)
def test_nothing_is_written_when_the_logger_is_above_info(lines):
    logs.log.setLevel(logging.WARNING)

    logs.access_line("GET", "/api/integrations", 200, 1, None, "r-2")

    assert lines() == []


def test_the_json_time_is_the_records_time_in_utc():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    record.created = 1_764_000_000.9876

    entry = json.loads(logs.JsonFormatter().format(record))

    assert entry["time"] == "2025-11-24T16:00:00.987Z"


AWKWARD = [
    ("GET", "/api/integrations", 200, 7, "192.0.2.10", "trace-42"),
    ("DELETE", '/api/x/"quoted"\\back/ünï/☃/\U0001f600', 204, None, None, "r"),
    ("PATCH", "/api/x\\r\\nERROR forged\\x1b[2J", 502, 0, "2001:db8::1", "a" * 128),
    ("GET", "/api/\u2028line\u2029sep", 404, 12345, "::1", "id/with:odd@chars+=."),
]


@pytest.mark.parametrize("fields", AWKWARD)
def test_the_direct_line_is_the_formatters_line(fields):
    formatter = logs.JsonFormatter()
    created = 1_764_000_000.9876

    direct = formatter.access(created, *fields)

    assert direct == formatter.format(logs._access_record(created, *fields))
    assert json.loads(direct)["path"] == fields[1]


@pytest.fixture
def hub_handler(monkeypatch):
    """Makes the hub's JSON handler, writing to a buffer, the only handler of the root
    logger, as in production (called in the test: pytest adds its own around the test)."""
    stream = io.StringIO()
    handler = logs._HubHandler(stream)
    handler.addFilter(logs.RequestIdFilter())
    handler.setFormatter(logs.JsonFormatter())
    monkeypatch.setattr(logs.log, "level", logging.INFO)

    def alone() -> io.StringIO:
        monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
        return stream

    yield alone
    logging.getLogger().manager._clear_cache()


def test_with_the_hub_handler_alone_the_line_is_written_directly(hub_handler, monkeypatch):
    def no_record(*_):
        raise AssertionError("the record was built")

    monkeypatch.setattr(logs.log, "handle", no_record)
    sole_hub_handler = hub_handler()

    logs.access_line("GET", "/api/x\r\n", 200, 7, "192.0.2.10", "trace-44")

    [line] = sole_hub_handler.getvalue().splitlines()
    entry = json.loads(line)
    assert (entry["logger"], entry["message"], entry["path"], entry["request_id"]) == (
        "integration_hub.requests", "GET /api/x\\r\\n 200", "/api/x\\r\\n", "trace-44")


def test_any_other_handler_gets_the_record_and_the_hub_handler_the_same_line(
        hub_handler, monkeypatch):
    sole_hub_handler = hub_handler()
    seen: list[logging.LogRecord] = []

    class Watcher(logging.Handler):
        def emit(self, record):
            seen.append(record)

    watcher = Watcher()
    monkeypatch.setattr(logging.getLogger("integration_hub"), "handlers", [watcher])

    logs.access_line("POST", "/api/integrations", 201, 3, "192.0.2.10", "trace-45")

    [record] = seen
    assert (record.getMessage(), record.request_id, record.status) == (
        "POST /api/integrations 201", "trace-45", 201)
    [line] = sole_hub_handler.getvalue().splitlines()
    assert json.loads(line)["message"] == "POST /api/integrations 201"


def test_a_failed_write_is_reported_as_the_handler_reports_one(hub_handler, monkeypatch):
    reported: list[logging.LogRecord] = []
    sole_hub_handler = hub_handler()
    [handler] = logging.getLogger().handlers
    monkeypatch.setattr(handler, "handleError", reported.append)
    sole_hub_handler.close()

    logs.access_line("GET", "/api/integrations", 200, 1, None, "trace-46")

    [record] = reported
    assert (record.getMessage(), record.request_id) == ("GET /api/integrations 200", "trace-46")


def test_new_request_ids_are_32_hex_digits_and_do_not_repeat():
    ids = {logs.request_id_from(None) for _ in range(10_000)}

    assert len(ids) == 10_000
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in ids)
    assert logs.request_id_from("caller-id.1") == "caller-id.1"
    assert len(logs.request_id_from("bad id with spaces")) == 32
