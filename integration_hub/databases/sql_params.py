"""Named parameters (``:name``) for drivers that take ``%(name)s``.

Only to place bound parameters: ``:name`` inside string literals, quoted
identifiers, comments, dollar-quoted strings and ``::`` casts is left alone.
Read-only enforcement never depends on this; the database does that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


class MissingParameter(ValueError):
    pass


def to_pyformat(sql: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``sql`` with ``:name`` as ``%(name)s`` and every literal ``%`` doubled, and the
    parameters it uses. Raises MissingParameter naming the first one not given."""
    out: list[str] = []
    used: dict[str, Any] = {}
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char in ("'", '"', "`"):
            end = _closing_quote(sql, i)
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif char == "$" and (tag := _DOLLAR_TAG.match(sql, i)):
            marker = tag.group(0)
            end = sql.find(marker, tag.end())
            end = n if end < 0 else end + len(marker)
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("::", i):
            out.append("::")
            i += 2
        elif char == ":" and (name := _NAME.match(sql, i + 1)):
            key = name.group(0)
            if key not in params:
                raise MissingParameter(key)
            used[key] = params[key]
            out.append(f"%({key})s")
            i = name.end()
        else:
            out.append("%%" if char == "%" else char)
            i += 1
    return "".join(out), used


def _closing_quote(sql: str, start: int) -> int:
    """Index after the quoted run starting at ``start`` (doubled quotes and backslash escapes)."""
    quote = sql[start]
    i = start + 1
    while i < len(sql):
        if sql[i] == "\\" and quote == "'":
            i += 2
            continue
        if sql[i] == quote:
            if i + 1 < len(sql) and sql[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return len(sql)
