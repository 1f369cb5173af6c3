"""HAL-FORMS templates (https://rwcbook.github.io/hal-forms/) generated from marshmallow schemas.

A template describes one action on a resource: its method, target, content type
and the properties of the body, each with the constraints the schema enforces
(required, length, range, pattern, choices). The schema a view loads its body
with is the one the template is generated from, so the form and the validation
cannot drift apart. Nothing here touches Flask.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import marshmallow as ma

HAL_FORMS = "application/prs.hal-forms+json"
JSON = "application/json"

_NUMBERS = (ma.fields.Integer, ma.fields.Float, ma.fields.Decimal)
_STRUCTURED = (ma.fields.Dict, ma.fields.Nested, ma.fields.List)
_TIMES = (ma.fields.DateTime, ma.fields.AwareDateTime, ma.fields.NaiveDateTime)


def is_secret(field: ma.fields.Field) -> bool:
    """Secrets are write-only strings (the schemas' convention), unless marked otherwise."""
    if "secret" in field.metadata:
        return bool(field.metadata["secret"])
    return field.load_only and isinstance(field, ma.fields.String)


def input_type(field: ma.fields.Field) -> str:
    """The HTML input type a form renders the field with."""
    if "input" in field.metadata:
        return field.metadata["input"]
    if is_secret(field):
        return "password"
    if isinstance(field, ma.fields.Boolean):
        return "checkbox"
    if isinstance(field, _NUMBERS):
        return "number"
    if isinstance(field, ma.fields.Email):
        return "email"
    if isinstance(field, ma.fields.Url) or field.metadata.get("format") == "uri":
        return "url"
    if isinstance(field, ma.fields.List) and _choices(field.inner) is not None:
        return "text"  # a multiple choice: options say which values
    if isinstance(field, _STRUCTURED):
        return "textarea"  # a JSON object or array
    return "text"


def prop(name: str, field: ma.fields.Field, value: Any = None,
         required: bool = False, read_only: bool = False) -> dict[str, Any]:
    """One HAL-FORMS property for ``field`` (exposed as ``name``), ``value`` pre-filled;
    ``required`` where a rule beyond the schema needs the field; ``read_only`` where this
    caller may only send the value back unchanged."""
    result: dict[str, Any] = {"name": name, "type": input_type(field)}
    if field.required or required:
        result["required"] = True
    if read_only:
        result["readOnly"] = True
    prompt = field.metadata.get("description")
    if prompt:
        result["prompt"] = prompt
    if not isinstance(field, ma.fields.List):  # a list's counts go in its options
        for validator in field.validators:
            result.update(_constraint(validator))
    if isinstance(field, _TIMES):
        result.setdefault("placeholder", "2026-12-31T23:59:59Z")
    options = _options(field)
    if options:
        result["options"] = options
    if value is not None and not is_secret(field) and not isinstance(value, dict):
        result["value"] = value
    return result


def properties(schema: ma.Schema, values: Mapping[str, Any] | None = None,
               required: Collection[str] = (),
               read_only: Collection[str] = ()) -> list[dict[str, Any]]:
    """Every field a client may send, in schema order; ``values`` (by exposed name)
    pre-fill the properties, never a secret's; ``required`` names more required ones,
    ``read_only`` those the caller may only send back unchanged."""
    values = values or {}
    result = []
    for name, field in schema.load_fields.items():
        exposed = field.data_key or name
        result.append(prop(exposed, field, values.get(exposed), exposed in required,
                           exposed in read_only))
    return result


def template(method: str, target: str, schema: ma.Schema | None = None, *, title: str,
             values: Mapping[str, Any] | None = None, required: Collection[str] = (),
             read_only: Collection[str] = (), content_type: str = JSON) -> dict[str, Any]:
    """A template: ``schema`` describes the body (none for DELETE and bodiless POSTs)."""
    result: dict[str, Any] = {"title": title, "method": method.upper(), "target": target}
    if schema is not None:
        result["contentType"] = content_type
    result["properties"] = (properties(schema, values, required, read_only)
                            if schema is not None else [])
    return result


def _choices(field: ma.fields.Field) -> list[Any] | None:
    for validator in field.validators:
        if isinstance(validator, ma.validate.OneOf):
            return list(validator.choices)
    return None


def _options(field: ma.fields.Field) -> dict[str, Any] | None:
    """Choices from a ``OneOf`` (one value) or from a list of ``OneOf`` (several)."""
    if isinstance(field, ma.fields.List):
        choices = _choices(field.inner)
        if choices is None:
            return None
        options: dict[str, Any] = {"inline": choices}
        for validator in field.validators:
            if isinstance(validator, ma.validate.Length):
                options.update(_item_counts(validator))
        return options
    choices = _choices(field)
    if choices is None:
        return None
    return {"inline": choices, "minItems": 1 if field.required else 0, "maxItems": 1}


def _item_counts(validator: ma.validate.Length) -> dict[str, int]:
    counts = {}
    if validator.min is not None:
        counts["minItems"] = validator.min
    if validator.max is not None:
        counts["maxItems"] = validator.max
    return counts


def _constraint(validator: Any) -> dict[str, Any]:
    """What one validator adds to a scalar property (lists carry theirs in options)."""
    if isinstance(validator, ma.validate.Length):
        if validator.equal is not None:
            return {"minLength": validator.equal, "maxLength": validator.equal}
        bounds = {"minLength": validator.min, "maxLength": validator.max}
        return {k: v for k, v in bounds.items() if v is not None}
    if isinstance(validator, ma.validate.Range):
        bounds = {"min": validator.min, "max": validator.max}
        return {k: v for k, v in bounds.items() if v is not None}
    if isinstance(validator, ma.validate.Regexp):
        return {"regex": validator.regex.pattern}
    return {}
