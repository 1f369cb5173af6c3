"""What a validation problem says about the fields of a request: which are missing, unknown
or invalid (``fields``), and the sentence that tells a person (``detail``).

``errors`` (field -> messages) keeps marshmallow's messages; a field is *missing* when its
messages hold marshmallow's "required" message (services that find a field missing use the
same words), *unknown* when they hold the "unknown field" message, and *invalid* otherwise.
``_schema`` holds messages about the body as a whole (not a JSON object): no field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from marshmallow.exceptions import SCHEMA

MISSING = ma.fields.Field.default_error_messages["required"]
UNKNOWN = ma.Schema().error_messages["unknown"]
WHOLE = SCHEMA  # "_schema"
KINDS = ("missing", "unknown", "invalid")


def field_kinds(errors: Mapping[Any, Any]) -> dict[str, list[str]]:
    """{"missing": [...], "unknown": [...], "invalid": [...]}: field names, sorted."""
    kinds: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for name, messages in errors.items():
        if name == WHOLE:
            continue
        said = messages if isinstance(messages, list) else []
        kind = "missing" if MISSING in said else "unknown" if UNKNOWN in said else "invalid"
        kinds[kind].append(str(name))
    return {kind: sorted(names) for kind, names in kinds.items()}


def summary(errors: Mapping[Any, Any]) -> str:
    """``missing required field: url; unknown fields: a, b; invalid field: events``."""
    kinds = field_kinds(errors)
    parts = [f"{label}{'s' if len(kinds[kind]) > 1 else ''}: {', '.join(kinds[kind])}"
             for kind, label in (("missing", "missing required field"),
                                 ("unknown", "unknown field"), ("invalid", "invalid field"))
             if kinds[kind]]
    whole = errors.get(WHOLE)
    if isinstance(whole, list) and whole:
        parts.append("the request is not valid: " + " ".join(str(text) for text in whole))
    return "; ".join(parts) or "the request is not valid"
