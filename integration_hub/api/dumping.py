"""Dumping many objects with one schema, without marshmallow's per-field indirection.

A page of 50 integrations is some 1,500 field values; ``Schema.dump`` reaches each one
through ``Field.serialize``, ``Field.get_value``, ``Schema.get_attribute`` and
``utils.get_value``, which cost more than the values themselves (docs/performance.md,
section 3). ``compiled_dump`` reads the schema's fields once and then, per object, does
what ``Schema.dump`` does in the same order: the same values, the same keys, the same
post-dump hooks. Anything it does not know to repeat exactly (pre-dump hooks, a schema
or field that reads values its own way, dotted attributes, mappings as objects) is left
to marshmallow, so the output is ``schema.dump(obj)`` whatever the schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from marshmallow.decorators import POST_DUMP, PRE_DUMP

_MISSING = ma.missing
_STRING = ma.fields.String._serialize  # a str comes out as it went in
_AS_IS = ma.fields.Field._serialize  # Boolean, Raw: every value comes out as it went in
# Fields whose dump of None is None.
_NONE_AS_NONE = {_STRING, _AS_IS, ma.fields.Number._serialize, ma.fields.DateTime._serialize,
                 ma.fields.Mapping._serialize, ma.fields.List._serialize}


def compiled_dump(schema: ma.Schema) -> Callable[[Any], Any]:
    """A function equal to ``schema.dump`` for one object, faster for plain objects."""
    if (schema._hooks[PRE_DUMP] or schema.dict_class is not dict
            or type(schema).get_attribute is not ma.Schema.get_attribute):
        return schema.dump
    steps = [_step(name, field) for name, field in schema.dump_fields.items()]
    post_dump = bool(schema._hooks[POST_DUMP])

    def dump(obj: Any) -> Any:
        if obj is None or hasattr(obj, "__getitem__"):  # marshmallow tries obj[key] first
            return schema.dump(obj)
        result = {}
        for key, name, attribute, field, serialize, kind in steps:
            if kind == "computed":  # Method, Function: no value read for them
                value = field._serialize(None, name, obj)
            elif kind == "read":
                value = getattr(obj, attribute, _MISSING)
                if value is _MISSING:  # its dump_default, as marshmallow finds it
                    value = field.serialize(name, obj, accessor=schema.get_attribute)
                elif not (serialize is _AS_IS or serialize is _STRING and type(value) is str
                          or value is None and serialize in _NONE_AS_NONE):
                    value = field._serialize(value, name, obj)
            else:
                value = field.serialize(name, obj, accessor=schema.get_attribute)
            if value is not _MISSING:
                result[key] = value
        if post_dump:
            return schema._invoke_dump_processors(POST_DUMP, result, many=False,
                                                  original_data=obj)
        return result

    return dump


def _step(name: str, field: ma.fields.Field) -> tuple[str, str, str, ma.fields.Field,
                                                     Callable[..., Any], str]:
    """What to do for one field: its output key, name, attribute, its class's
    ``_serialize``, and how to get its value (``computed``, ``read`` with ``getattr``, or
    marshmallow's own ``serialize``)."""
    key = field.data_key if field.data_key is not None else name
    attribute = field.attribute or name
    if not field._CHECK_ATTRIBUTE:
        kind = "computed"
    elif "." in attribute or type(field).get_value is not ma.fields.Field.get_value:
        kind = "serialize"
    else:
        kind = "read"
    return key, name, attribute, field, type(field)._serialize, kind


class CompiledList(ma.fields.List):
    """``List(Nested(schema))`` whose items are dumped by ``compiled_dump``; the same
    output and the same OpenAPI description as the plain list."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        inner = self.inner
        if not isinstance(inner, ma.fields.Nested) or inner.many or inner.schema.many:
            return super()._serialize(value, attr, obj, **kwargs)
        dump = self.__dict__.get("_compiled")
        if dump is None:
            dump = self._compiled = compiled_dump(inner.schema)
        return [None if each is None else dump(each) for each in value]
