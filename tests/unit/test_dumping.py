"""``compiled_dump`` gives exactly what ``Schema.dump`` gives: the same keys in the same
order with the same values, for every kind of field and hook a schema may have."""

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import marshmallow as ma
import pytest

from integration_hub.api.dumping import CompiledList, compiled_dump


class NoneAsText(ma.fields.Field):
    """A field that dumps None as something else: the compiled dump must ask it."""

    def _serialize(self, value, attr, obj, **kwargs):
        return "nothing" if value is None else f"<{value}>"


class ReadsItsOwnWay(ma.fields.String):
    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return "read its own way"


class Child(ma.Schema):
    n = ma.fields.Integer()


class Everything(ma.Schema):
    text = ma.fields.String()
    number_as_text = ma.fields.String()
    absent_text = ma.fields.String()
    count = ma.fields.Integer()
    ratio = ma.fields.Float()
    decimal_text = ma.fields.Decimal(as_string=True)
    flag = ma.fields.Boolean()
    when = ma.fields.DateTime()
    when_formatted = ma.fields.DateTime(format="%Y/%m/%d", attribute="when",
                                        dump_only=True)
    mapping = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    raw_mapping = ma.fields.Dict()
    children = ma.fields.List(ma.fields.Nested(Child))
    child = ma.fields.Nested(Child, allow_none=True)
    renamed = ma.fields.String(data_key="renamedKey", attribute="text", dump_only=True)
    defaulted = ma.fields.String(dump_default="the default")
    dotted = ma.fields.Integer(attribute="child.n")
    method = ma.fields.Method("describe")
    function = ma.fields.Function(lambda obj: obj.count * 2)
    constant = ma.fields.Constant("always")
    none_as_text = NoneAsText()
    own_way = ReadsItsOwnWay()
    secret = ma.fields.String(load_only=True)

    def describe(self, obj):
        return f"{obj.text} ({obj.count})"


class WithPostDump(Everything):
    @ma.post_dump
    def method_first(self, data, **_):
        return {"method": data.pop("method"), **data}


class WithPreDump(Everything):
    @ma.pre_dump
    def upper(self, obj, **_):
        return SimpleNamespace(**{**vars(obj), "text": (obj.text or "").upper()})


def thing(**changes):
    values = dict(text="hello", number_as_text=42, count=3, ratio=0.5, decimal_text=1.25,
                  flag=True, when=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                  mapping={"a": 1}, raw_mapping={"b": [1, 2]},
                  children=[SimpleNamespace(n=1), SimpleNamespace(n=2)],
                  child=SimpleNamespace(n=7), none_as_text=None, own_way="ignored",
                  secret="never shown")
    values.update(changes)
    return SimpleNamespace(**values)


OBJECTS = [
    thing(),
    thing(text=None, number_as_text=None, count=0, ratio=None, flag=None, when=None,
          mapping=None, raw_mapping=None, children=None, child=None, none_as_text="x"),
    thing(flag=0, text="ünïcode", mapping={}, children=[], decimal_text=None),
]


def as_text(document) -> str:
    return json.dumps(document, default=str)  # keys in order: what the answer's bytes hold


@pytest.mark.parametrize("schema_class", [Everything, WithPostDump, WithPreDump])
@pytest.mark.parametrize("obj", OBJECTS)
def test_the_compiled_dump_is_the_schemas_dump(schema_class, obj):
    schema = schema_class()

    assert as_text(compiled_dump(schema)(obj)) == as_text(schema.dump(obj))


def test_mappings_and_none_are_dumped_as_marshmallow_dumps_them():
    schema = Everything(only=("text", "count"))
    mapping = {"text": "from a dict", "count": 1}

    assert compiled_dump(schema)(mapping) == schema.dump(mapping) == mapping
    assert compiled_dump(schema)(None) == schema.dump(None)


def test_a_compiled_list_dumps_its_items_as_a_plain_list_does():
    class Plain(ma.Schema):
        items = ma.fields.List(ma.fields.Nested(WithPostDump))

    class Compiled(ma.Schema):
        items = CompiledList(ma.fields.Nested(WithPostDump))

    page = {"items": [*OBJECTS, None]}

    assert as_text(Compiled().dump(page)) == as_text(Plain().dump(page))
    assert Compiled().dump({"items": None}) == {"items": None}
