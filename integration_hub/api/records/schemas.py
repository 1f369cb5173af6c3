"""Schemas of the records store: records, store operations, imports."""

from typing import Any

import marshmallow as ma
from werkzeug.datastructures import FileStorage

from integration_hub.api.common import MAX_OFFSET, HalSchema, PageArgsSchema, href, page_schema
from integration_hub.hal import forms
from integration_hub.integrations.acl import Access
from integration_hub.records.store import DEFAULT_MODEL
from integration_hub.records.writing import MAX_BATCH

MODEL = {"description": "Records model (default resources): 1-64 letters, digits, '_', '.', '-'"}


def _shown_data(record) -> dict[str, Any]:
    if record.shown_fields is None:
        return record.data
    return {name: record.data[name] for name in record.shown_fields if name in record.data}


class RecordSchema(HalSchema):
    id = ma.fields.String(attribute="record_id")
    model = ma.fields.String()
    data = ma.fields.Function(_shown_data, metadata={
        "type": "object", "description": "The item as imported, synced or written (only the "
                                         "fields a page's fields parameter names)"})
    deleted = ma.fields.Function(lambda r: r.deleted_at is not None, metadata={
        "description": "Gone from the upstream listing at the last sync"})
    updated_at = ma.fields.DateTime(data_key="updatedAt")

    def hal_links(self, record):
        return {**record_links(record.integration_id, record.model, record.record_id),
                "inf:integration": {"href": href("integrations.Integration",
                                                 integration_id=record.integration_id)}}

    def hal_templates(self, record):
        """Replace, merge and delete, for callers with write access. The body of a PUT or
        PATCH is the record's data itself, so the form has one property per member of the
        stored data, pre-filled (objects and arrays as JSON text areas)."""
        if (getattr(record, "caller_access", None) or Access.NONE) < Access.WRITE:
            return {}
        target = record_links(record.integration_id, record.model, record.record_id)
        target = target["self"]["href"]
        fields = data_properties(record.data)
        return {"default": {**forms.template("PUT", target, title="Replace the record's data"),
                            "contentType": forms.JSON, "properties": fields},
                # application/json: a PATCH reads either type as a merge patch.
                "merge": {**forms.template("PATCH", target, title="Change some of the record's "
                                                                  "data (JSON merge patch)"),
                          "contentType": forms.JSON, "properties": fields},
                "delete": forms.template("DELETE", target, title="Delete the record")}


MERGE_PATCH = "application/merge-patch+json"


def data_properties(data: dict[str, Any]) -> list[dict[str, Any]]:
    """HAL-FORMS properties for a record's data: one per member, typed by its value."""
    return [forms.prop(name, _field_for(value), value) for name, value in data.items()]


def _field_for(value: Any) -> ma.fields.Field:
    if isinstance(value, bool):
        return ma.fields.Boolean()
    if isinstance(value, (int, float)):
        return ma.fields.Float()
    if isinstance(value, (dict, list)):
        return ma.fields.Raw(metadata={"input": "textarea"})
    return ma.fields.String()


class RecordCreateSchema(ma.Schema):
    """What the create form offers: the id; every other member of the object sent is the
    record's data too (a generic form cannot know a model's fields)."""

    id = ma.fields.String(validate=ma.validate.Length(min=1, max=256), metadata={
        "description": "The record's id (generated when absent); the object's other members "
                       "are its data"})


RecordPageSchema = page_schema(RecordSchema, "inf:record", "RecordPage")
RecordBatchSchema = page_schema(RecordSchema, "inf:record", "RecordBatch")
RECORD_OBJECT = {"type": "object", "additionalProperties": True,
                 "description": "The record's data: any JSON object; its id is the member "
                                "\"id\" (generated when absent)"}
RECORDS_BODY = {"required": True, "content": {"application/json": {"schema": {
    "oneOf": [RECORD_OBJECT,
              {"type": "array", "items": RECORD_OBJECT, "minItems": 1, "maxItems": MAX_BATCH,
               "description": f"1 to {MAX_BATCH} records, stored all or nothing"}]}}}}
RECORD_BODY = {"required": True, "content": {"application/json": {"schema": RECORD_OBJECT}}}
RECORD_PATCH = {"required": True, "content": {
    media_type: {"schema": {"type": "object", "additionalProperties": True,
                            "description": "A JSON merge patch of the record's data (RFC 7396):"
                                           " null removes a member"}}
    for media_type in (MERGE_PATCH, "application/json")}}


WHERE = {"description": "NocoDB's filter: (field,op,value) terms joined by ~and, ~or, ~not "
                        "and parentheses; op is eq, neq, gt, ge, lt, le, like, nlike, in, btw, "
                        "blank or notblank; numbers compare as numbers "
                        "(docs/decisions.md, \"Filtering and sorting records\")",
         "example": "(status,eq,open)~and(amount,gt,100)"}


class RecordArgsSchema(PageArgsSchema):
    model = ma.fields.String(metadata={"description": "Only this model (default: every model)"})
    include_deleted = ma.fields.Boolean(data_key="includeDeleted", load_default=False, metadata={
        "description": "Also records a sync marked deleted"})
    where = ma.fields.String(metadata=WHERE)
    sort = ma.fields.String(metadata={
        "description": "Data fields to order by, comma-separated; a leading - is descending "
                       "(default: model, then id)", "example": "-amount,name"})
    fields = ma.fields.String(metadata={
        "description": "Only these data fields in each record's data, comma-separated",
        "example": "amount,name"})


class RecordGroupArgsSchema(PageArgsSchema):
    model = ma.fields.String(load_default=DEFAULT_MODEL, metadata=MODEL)
    column = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64),
                              metadata={"description": "The data field to group by"})
    where = ma.fields.String(metadata=WHERE)


class RecordGroupSchema(HalSchema):
    value = ma.fields.Raw(metadata={
        "type": ["string", "number", "boolean", "null"],
        "description": "The field's value (null: null or missing)"})
    count = ma.fields.Integer(metadata={"description": "Live records holding it"})

    def hal_links(self, group):
        return group["links"]


class RecordGroupPageSchema(page_schema(RecordGroupSchema, "inf:record-group",
                                        "RecordGroupPageBase")):
    ungrouped = ma.fields.Integer(dump_only=True, metadata={
        "description": "Records whose field holds an object or an array (not grouped)"})
    truncated = ma.fields.Boolean(dump_only=True, metadata={
        "description": "More than 1,000 values: the largest 1,000 groups are listed"})


class BulkArgsSchema(ma.Schema):
    where = ma.fields.String(required=True, metadata=WHERE)


class BulkResultSchema(ma.Schema):
    links = ma.fields.Dict(data_key="_links", dump_only=True)
    count = ma.fields.Integer(metadata={"description": "Records changed or deleted"})


class StoreSchema(ma.Schema):
    op = ma.fields.String(required=True, validate=ma.validate.OneOf(("list", "get", "sum")))
    model = ma.fields.String(load_default=DEFAULT_MODEL, metadata=MODEL)
    limit = ma.fields.Integer(load_default=25, validate=ma.validate.Range(min=1, max=500),
                              metadata={"description": "list: records to return"})
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=MAX_OFFSET),
                               metadata={"description": "list: records to skip"})
    id = ma.fields.String(validate=ma.validate.Length(min=1, max=256),
                          metadata={"description": "get: the record's id"})
    fields = ma.fields.List(ma.fields.String(), validate=ma.validate.Length(max=50), metadata={
        "description": "sum: the numeric fields to add; list/get: the data fields to return"})


class StoredRecordSchema(ma.Schema):
    id = ma.fields.String()
    model = ma.fields.String()
    data = ma.fields.Dict()
    updated_at = ma.fields.String(data_key="updatedAt", attribute="updatedAt")
    deleted = ma.fields.Boolean()


class StoreResultSchema(ma.Schema):
    links = ma.fields.Dict(data_key="_links", dump_only=True)
    op = ma.fields.String()
    model = ma.fields.String()
    records = ma.fields.List(ma.fields.Nested(StoredRecordSchema), metadata={"description": "list"})
    total = ma.fields.Integer(metadata={"description": "list: live records of the model"})
    offset = ma.fields.Integer()
    limit = ma.fields.Integer()
    record = ma.fields.Nested(StoredRecordSchema, metadata={"description": "get"})
    # Raw, not Float: an integer total stays an exact integer (beyond 2**53 too), and a
    # total beyond a double is a string (records/sums.py).
    sums = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Raw(metadata={"type": ["number", "string"]}),
        metadata={"description": "sum: field -> the exact total of its numeric values; beyond "
                                 "the range of a double (about 1.8e308) a string in plain "
                                 "decimal notation"})
    count = ma.fields.Integer(metadata={"description": "sum: records considered"})


class ImportFormSchema(ma.Schema):
    resources_file = ma.fields.Raw(metadata={
        "type": "string", "format": "binary",
        "description": "CSV with a header row (an id column), or JSON Lines (objects with id); "
                       "one of resources_file and file is required"})
    file = ma.fields.Raw(metadata={"type": "string", "format": "binary",
                                   "description": "Another name for resources_file"})
    lineages_file = ma.fields.Raw(metadata={
        "type": "string", "format": "binary",
        "description": "Optional JSON Lines of lineage pairs, one per line: {\"upstream\": "
                       "{\"model\", \"id\"}, \"downstream\": {\"model\", \"id\"}} (an end "
                       "may be a bare id of the import's model)"})
    model = ma.fields.String(load_default=DEFAULT_MODEL, metadata=MODEL)
    partial = ma.fields.Boolean(load_default=False, metadata={
        "description": "Import the good lines and report the bad ones (default: all or nothing)"})

    @ma.validates_schema(skip_on_field_errors=False)  # named beside an unknown field too
    def _one_file(self, values, **kwargs):
        given = [name for name in ("resources_file", "file") if name in values]
        if len(given) > 1:
            raise ma.ValidationError("send the file as resources_file or as file, not both",
                                     field_name="file")
        if not given:
            raise ma.ValidationError("Missing data for required field.",
                                     field_name="resources_file")
        for name in (given[0], "lineages_file"):
            if name in values and not isinstance(values[name], FileStorage):
                raise ma.ValidationError("must be a file part of the form (with a filename)",
                                         field_name=name)

    @ma.post_load
    def _the_file(self, values, **kwargs):
        """``resources_file`` whichever name it came under."""
        if "file" in values:
            values["resources_file"] = values.pop("file")
        return values


class LineErrorSchema(ma.Schema):
    line = ma.fields.Integer()
    message = ma.fields.String()


class ImportResultSchema(ma.Schema):
    links = ma.fields.Dict(data_key="_links", dump_only=True)
    model = ma.fields.String()
    format = ma.fields.String(metadata={"description": "csv or jsonl, as recognised"})
    created = ma.fields.Integer()
    updated = ma.fields.Integer()
    errors = ma.fields.List(ma.fields.Nested(LineErrorSchema), metadata={
        "description": "Lines skipped (partial imports only; otherwise the import is refused)"})
    lineages = ma.fields.Integer(metadata={
        "description": "Distinct lineage pairs of lineages_file, now stored (0 without one)"})


class LineageArgsSchema(ma.Schema):
    model = ma.fields.String(load_default=DEFAULT_MODEL, metadata=MODEL)
    record_id = ma.fields.String(data_key="recordId", required=True,
                                 validate=ma.validate.Length(min=1, max=256))


class LinkedRecordSchema(ma.Schema):
    model = ma.fields.String()
    id = ma.fields.String()
    stored = ma.fields.Boolean(metadata={
        "description": "The record is in the store (lineage may name records not imported)"})


class LineageSchema(ma.Schema):
    links = ma.fields.Dict(data_key="_links", metadata={
        "description": "self, inf:record (the record), inf:integration, and inf:upstream and "
                       "inf:downstream: one link per record of the lists below, in their order"})
    model = ma.fields.String()
    record_id = ma.fields.String(data_key="recordId")
    upstream = ma.fields.List(ma.fields.Nested(LinkedRecordSchema), metadata={
        "description": "The records this one comes from, by model and id"})
    downstream = ma.fields.List(ma.fields.Nested(LinkedRecordSchema), metadata={
        "description": "The records this one feeds, by model and id"})
    truncated = ma.fields.Boolean(metadata={
        "description": "More than 500 records upstream or downstream: the first 500 by model "
                       "and id are listed"})


def record_links(integration_id: str, model: str, record_id: str) -> dict:
    return {"self": {"href": href("records.Record", integration_id=integration_id, model=model,
                                  record_id=record_id)},
            "inf:lineage": {"href": href("records.Lineage", integration_id=integration_id,
                                         model=model, recordId=record_id)}}
