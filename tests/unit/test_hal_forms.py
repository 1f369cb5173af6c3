"""HAL-FORMS properties generated from marshmallow fields: one table row per kind of field."""

import marshmallow as ma
import pytest

from integration_hub.hal.forms import prop, properties, template

CHOICES = ("per-user", "shared")


@pytest.mark.parametrize(("field", "expected"), [
    (ma.fields.String(), {"type": "text"}),
    (ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64)),
     {"type": "text", "required": True, "minLength": 1, "maxLength": 64}),
    (ma.fields.String(validate=ma.validate.Length(equal=6)),
     {"type": "text", "minLength": 6, "maxLength": 6}),
    (ma.fields.String(validate=ma.validate.Regexp(r"^#[0-9a-f]{6}$")),
     {"type": "text", "regex": r"^#[0-9a-f]{6}$"}),
    (ma.fields.String(load_only=True), {"type": "password"}),
    (ma.fields.String(load_only=True, metadata={"secret": False}), {"type": "text"}),
    (ma.fields.String(metadata={"input": "url"}), {"type": "url"}),
    (ma.fields.Email(), {"type": "email"}),
    (ma.fields.Url(), {"type": "url"}),
    (ma.fields.Boolean(), {"type": "checkbox"}),
    (ma.fields.Integer(validate=ma.validate.Range(min=0, max=5)),
     {"type": "number", "min": 0, "max": 5}),
    (ma.fields.Float(), {"type": "number"}),
    (ma.fields.AwareDateTime(), {"type": "text", "placeholder": "2026-12-31T23:59:59Z"}),
    (ma.fields.Dict(), {"type": "textarea"}),
    (ma.fields.Dict(load_only=True), {"type": "textarea"}),
    (ma.fields.List(ma.fields.String()), {"type": "textarea"}),
    (ma.fields.String(validate=ma.validate.OneOf(CHOICES)),
     {"type": "text", "options": {"inline": list(CHOICES), "minItems": 0, "maxItems": 1}}),
    (ma.fields.String(required=True, validate=ma.validate.OneOf(CHOICES)),
     {"type": "text", "required": True,
      "options": {"inline": list(CHOICES), "minItems": 1, "maxItems": 1}}),
    (ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(CHOICES)),
                    validate=ma.validate.Length(min=1, max=2)),
     {"type": "text", "options": {"inline": list(CHOICES), "minItems": 1, "maxItems": 2}}),
    (ma.fields.String(metadata={"description": "Shown to people"}),
     {"type": "text", "prompt": "Shown to people"}),
])
def test_each_kind_of_field(field, expected):
    assert prop("f", field) == {"name": "f", **expected}


def test_values_fill_in_everything_but_secrets():
    assert prop("f", ma.fields.String(), "now") == {"name": "f", "type": "text", "value": "now"}
    assert prop("f", ma.fields.Boolean(), False)["value"] is False
    assert "value" not in prop("f", ma.fields.String(load_only=True), "s3cret-value")
    assert "value" not in prop("f", ma.fields.Dict(load_only=True), {"k": "s3cret"})
    assert "value" not in prop("f", ma.fields.String(), None)


class Example(ma.Schema):
    id = ma.fields.String(dump_only=True)
    name = ma.fields.String(required=True)
    api_key = ma.fields.String(data_key="apiKey", load_only=True)
    enabled = ma.fields.Boolean()


def test_properties_are_the_loadable_fields_by_their_exposed_names():
    found = properties(Example(), {"name": "A", "apiKey": "k-123456789", "id": "x"},
                       required=("enabled",))
    assert found == [{"name": "name", "type": "text", "required": True, "value": "A"},
                     {"name": "apiKey", "type": "password"},
                     {"name": "enabled", "type": "checkbox", "required": True}]


def test_templates():
    assert template("put", "/things/1", Example(), title="Change") == {
        "title": "Change", "method": "PUT", "target": "/things/1",
        "contentType": "application/json", "properties": properties(Example())}
    assert template("DELETE", "/things/1", title="Delete") == {
        "title": "Delete", "method": "DELETE", "target": "/things/1", "properties": []}


def test_read_only_properties_keep_their_value():
    found = properties(Example(), {"name": "A"}, read_only=("name", "enabled"))
    assert found[0] == {"name": "name", "type": "text", "required": True, "readOnly": True,
                        "value": "A"}
    assert found[2] == {"name": "enabled", "type": "checkbox", "readOnly": True}
    assert "readOnly" not in found[1]
    assert template("PUT", "/things/1", Example(), title="Change", read_only=("name",))[
        "properties"][0]["readOnly"] is True
