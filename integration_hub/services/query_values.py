"""A database's values as the query answer carries them (JSON), and the names of their types.

Pure: no database and no Flask (tests/unit/test_query_values.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
from typing import Any


def json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)  # MySQL TIME and PostgreSQL interval: "10:20:30", "1 day, 2:00:00"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (dict, list)):
        return json.loads(json.dumps(value, default=str))
    return str(value)


def column_type(value: Any) -> str:
    """The answer's name for a column whose first value (not None) is ``value``."""
    if value is None:
        return "unknown"
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "number"),
                       (decimal.Decimal, "decimal"), (str, "string"),
                       (dt.datetime, "datetime"), (dt.date, "date"), (dt.time, "time"),
                       (dt.timedelta, "interval"), ((bytes, bytearray, memoryview), "binary"),
                       (uuid.UUID, "uuid"), ((dict, list), "json")):
        if isinstance(value, kind):
            return name
    return "string"
