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
