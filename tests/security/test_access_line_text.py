"""A caller's path reaches the access line, which the hub now writes itself when its JSON
handler is the only one (integration_hub/edge/logs.py): whatever the path holds, it is one
line, one JSON object with the fields it always had, and the path a string value in it."""

from __future__ import annotations

import io
import json
import logging

import pytest

from integration_hub.edge import logs

HOSTILE = [
    '/x", "status": 500, "level": "ERROR", "y": "',
    '/x\n{"level": "ERROR", "message": "forged"}',
    "/x\r\nERROR forged\x1b[2J\x00",
    "/x\\\\\"}\n",
    "/x\u2028\u2029\x85line breaks of other kinds",
    "/" + "ü☃\U0001f600" * 200,
]


@pytest.mark.parametrize("path", HOSTILE)
def test_a_hostile_path_stays_one_value_of_one_line(path, monkeypatch):
    stream = io.StringIO()
    handler = logs._HubHandler(stream)
    handler.addFilter(logs.RequestIdFilter())
    handler.setFormatter(logs.JsonFormatter())
    monkeypatch.setattr(logs.log, "level", logging.INFO)
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])  # as in production
    monkeypatch.setattr(logs.log, "handle", lambda _: pytest.fail("not the direct line"))

    logs.access_line("GET", path, 200, 3, "192.0.2.1", "trace-1")

    [line] = stream.getvalue().split("\n")[:-1]
    entry = json.loads(line)
    assert set(entry) == {"time", "level", "logger", "message", "request_id", "method",
                          "path", "status", "duration_ms", "remote_addr"}
    assert (entry["level"], entry["status"], entry["request_id"]) == ("INFO", 200, "trace-1")
    assert entry["path"] == logs._printable(path)
    assert all(char.isprintable() for char in entry["path"])
