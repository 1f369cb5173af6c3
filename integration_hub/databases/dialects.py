"""Which database engine an integration connects to, if any: one rule for every module.

An integration is a database when its type is one of the catalogue's database types
(``postgresql``, ``mysql``, ``sqlite``), whatever its category says, or when it is a generic
one (type or category ``database``) whose ``data.dialect`` names one of them. The queries,
the driver options, the SQLite path check and the rule of who may move credentials all ask
here: a copy of the rule that disagreed (one ignored the category) let a database integration
of an unusual type be saved with a path to the hub's own files.

Pure: no database and no Flask, tested as a table (tests/unit/test_database_dialects.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DIALECTS = ("postgresql", "mysql", "sqlite")
DATABASE = "database"  # the generic type, and the category of every database integration


def dialect_of(type_name: Any, category: Any, data: Mapping[str, Any] | None) -> str | None:
    """The dialect of an integration with this type, category and ``data``; None for one that
    is not a database (or names no dialect the hub knows)."""
    if type_name in DIALECTS:
        return type_name
    if DATABASE in (type_name, category):
        dialect = data.get("dialect") if isinstance(data, Mapping) else None
        return dialect if dialect in DIALECTS else None
    return None


def integration_dialect(integration: Any) -> str | None:
    """``dialect_of`` an object with ``type``, ``category`` and ``data`` attributes."""
    return dialect_of(integration.type, integration.category, integration.data)
