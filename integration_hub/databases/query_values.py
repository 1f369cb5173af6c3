"""A database's values as the query answer carries them (JSON), and the names of their types.

Pure: no database and no Flask (tests/unit/test_query_values.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import uuid
from typing import Any

from integration_hub import errors, json_body

# JSON nesting the answer may hold: its writer recurses once per level, on the same stack as
# the request, and a real document or array is never this deep.
MAX_DEPTH = 256


class ValueTooDeep(errors.ValidationFailed):
    code, title = "query_value_too_deep", "A value is nested too deeply to answer"


def json_safe(value: Any) -> Any:
    """``value`` as JSON carries it. Inside arrays and documents every value is written as it
    would be alone in a column: NaN and Infinity as text ("nan", "inf", "-inf"; JSON has no
    such numbers), dates in ISO 8601, bytes in base64. Walked without recursion, so a deep
    value is refused (ValueTooDeep) rather than overflowing the stack."""
    if not isinstance(value, (dict, list)):
        return _scalar(value)
    root: dict | list = {} if isinstance(value, dict) else []
    pending = [(value, root, 1)]
    while pending:
        source, target, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise too_deep()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            if isinstance(item, (dict, list)):
                child: Any = {} if isinstance(item, dict) else []
                pending.append((item, child, depth + 1))
            else:
                child = _scalar(item)
            if isinstance(target, dict):
                target[key if isinstance(key, str) else str(key)] = child
            else:
                target.append(child)
    return root


def read_json(document: bytes | str) -> Any:
    """A ``json``/``jsonb`` value of the database as the driver hands it over (PostgreSQL's
    driver loader parses recursively: 3,000 levels overflowed the stack). Too deep is
    refused, as ``json_safe`` would; numbers Python cannot hold come back as text."""
    if json_body.deeper_than(document, MAX_DEPTH):
        raise too_deep()
    return json_body.read_stored(document, MAX_DEPTH)


def too_deep() -> ValueTooDeep:
    return ValueTooDeep(f"a value is nested more than {MAX_DEPTH} levels deep; select a part "
                        "of it (for example with ->) or its text")


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)  # MySQL TIME and PostgreSQL interval: "10:20:30", "1 day, 2:00:00"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)  # UUID, ranges, composite values, anything else the driver made


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
