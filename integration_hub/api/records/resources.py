"""``/api/integrations/{id}/records``, ``/store``, ``/import`` and ``/lineage``: the records
store."""

from flask import current_app, request
from flask.views import MethodView
from webargs.core import missing
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import PathConverter

from integration_hub import errors
from integration_hub.api.common import hal_page, href
from integration_hub.api.extensions import Blueprint
from integration_hub.api.records.documents import batch_document, groups_document, lineage_document
from integration_hub.api.records.schemas import (
    RECORD_BODY,
    RECORD_PATCH,
    RECORDS_BODY,
    BulkArgsSchema,
    BulkResultSchema,
    ImportFormSchema,
    ImportResultSchema,
    LineageArgsSchema,
    LineageSchema,
    RecordArgsSchema,
    RecordBatchSchema,
    RecordCreateSchema,
    RecordGroupArgsSchema,
    RecordGroupPageSchema,
    RecordPageSchema,
    RecordSchema,
    StoreResultSchema,
    StoreSchema,
)
from integration_hub.config import current_settings
from integration_hub.db.session import db_session
from integration_hub.edge.security import current_actor, current_user
from integration_hub.hal import documents as hal
from integration_hub.hal import forms
from integration_hub.integrations.acl import Access
from integration_hub.records import imports as record_imports
from integration_hub.records import reading as records
from integration_hub.records import writing as record_writing

blp = Blueprint("records", __name__, url_prefix="/api",
                description="Records an integration feeds into the hub: read, written, "
                            "filtered, grouped, imported, summed, and their lineage")
MULTIPART_OVERHEAD = 64 * 1024


class RecordIdConverter(PathConverter):
    """A record id as the rest of the path: any characters, slashes anywhere included.
    Links write it as one segment (``hal.path_segment``: "/" as %2F); the server decodes
    %2F before routing, which is why the rule takes the rest of the path."""

    regex = r"[\s\S]+?"  # any character, newlines too
    part_isolating = False  # Werkzeug would infer True from a regex without "/"

    def to_url(self, value) -> str:
        return hal.path_segment(str(value))


@blp.record_once
def _register_converter(state):
    # Recorded before the routes below, so the converter exists when they are added.
    state.app.url_map.converters["record_id"] = RecordIdConverter


@blp.before_request
def _check_upload():
    """Refuse an import that is not multipart, or oversized, before its body is read."""
    if request.endpoint == "records.Import" and request.method == "POST":
        if request.mimetype != "multipart/form-data":
            raise errors.UnsupportedMediaType("send the file as multipart/form-data in the "
                                              "field resources_file")
        limit = current_settings().import_max_bytes
        if request.content_length and request.content_length > limit + MULTIPART_OVERHEAD:
            raise record_imports.ImportTooLarge(f"imports accept at most {limit} bytes")
        request.max_content_length = limit + MULTIPART_OVERHEAD
        try:
            request.files  # noqa: B018 - parsed here: a chunked body declares no length
        except RequestEntityTooLarge:
            raise record_imports.ImportTooLarge(f"imports accept at most {limit} bytes") from None


def _links(integration_id: str, endpoint: str) -> dict:
    return {"self": {"href": href(endpoint, integration_id=integration_id)},
            "inf:records": {"href": href("records.Records", integration_id=integration_id)},
            "inf:integration": {"href": href("integrations.Integration",
                                             integration_id=integration_id)}}


@blp.route("/integrations/<integration_id>/records")
class Records(MethodView):
    @blp.arguments(RecordArgsSchema, location="query")
    @blp.response(200, RecordPageSchema)
    @blp.problems(401, 404, 422)
    def get(self, args, integration_id):
        """The integration's records, by model then id"""
        integration, items, total = records.page(db_session(), current_user(), integration_id,
                                                 args, args["start"], args["limit"])
        model = args.get("model")
        return hal_page("records.Records", "inf:record", items, args["start"], args["limit"],
                        total, templates=lambda: _create_template(integration, model),
                        integration_id=integration.id)


def _create_template(integration, model: str | None) -> dict:
    """Creating a record, on a page of one model, for callers with write access."""
    if model is None or (integration.caller_access or Access.NONE) < Access.WRITE:
        return {}
    return {"default": forms.template(
        "POST", href("records.ModelRecords", integration_id=integration.id, model=model),
        RecordCreateSchema(), title=f"Create a record in {model}")}


def _sent_json():
    """The body as sent, any JSON value (a record is a free-form object), read by the rules
    of every JSON body (media type, size, depth, NUL)."""
    body = blp.ARGUMENTS_PARSER.load_json(request, None)
    if body is missing:
        raise errors.ValidationFailed("send the record as a JSON body",
                                      errors={"_schema": ["Missing data for required field."]})
    return body


@blp.route("/integrations/<integration_id>/records/<model>")
class ModelRecords(MethodView):
    @blp.doc(requestBody=RECORDS_BODY, responses={"201": {"content": {hal.HAL_JSON: {
        "schema": {"anyOf": [RecordSchema, RecordBatchSchema]}}}}})
    @blp.response(201, RecordSchema, description=(
        "An object sent: the record, with Location; an array sent: the records created, in "
        "the order sent (RecordBatch)"))
    @blp.problems(400, 401, 403, 404, 409, 413, 415, 422)
    def post(self, integration_id, model):
        """Create a record (an object) or records (an array, all or nothing)"""
        body = _sent_json()
        created = record_writing.create(current_actor(), integration_id, model, body)
        if isinstance(body, list):
            answer = current_app.json.response(RecordBatchSchema().dump(
                batch_document(created.integration.id, model, created.records)))
            answer.status_code, answer.mimetype = 201, hal.HAL_JSON
            return answer
        (record,) = created.records
        return record, 201, {"Location": href("records.Record", integration_id=record.integration_id,
                                              model=record.model, record_id=record.record_id)}

    @blp.arguments(BulkArgsSchema, location="query")
    @blp.doc(requestBody=RECORD_PATCH)
    @blp.response(200, BulkResultSchema)
    @blp.problems(400, 401, 403, 404, 413, 415, 422)
    def patch(self, args, integration_id, model):
        """Merge a JSON merge patch into every record the where filter selects"""
        integration, count = record_writing.update_where(
            current_actor(), integration_id, model, args["where"], _sent_json())
        return {"links": _model_links(integration.id, model), "count": count}

    @blp.arguments(BulkArgsSchema, location="query")
    @blp.response(200, BulkResultSchema)
    @blp.problems(401, 403, 404, 422)
    def delete(self, args, integration_id, model):
        """Delete every record the where filter selects"""
        integration, count = record_writing.delete_where(current_actor(), integration_id,
                                                         model, args["where"])
        return {"links": _model_links(integration.id, model), "count": count}


def _model_links(integration_id: str, model: str) -> dict:
    return {"inf:records": {"href": href("records.Records", integration_id=integration_id,
                                         model=model)},
            "inf:integration": {"href": href("integrations.Integration",
                                             integration_id=integration_id)}}


# merge_slashes=False: an id may hold "//" ("a//b"); the record_id converter lets it start
# with "/" too, where Werkzeug's path converter would not match ("/docs/a.txt").
@blp.route("/integrations/<integration_id>/records/<model>/<record_id:record_id>",
           merge_slashes=False)
class Record(MethodView):
    @blp.response(200, RecordSchema)
    @blp.problems(401, 404, 422)
    def get(self, integration_id, model, record_id):
        """One record"""
        return records.get(db_session(), current_user(), integration_id, model, record_id)

    @blp.doc(requestBody=RECORD_BODY)
    @blp.response(200, RecordSchema)
    @blp.problems(400, 401, 403, 404, 413, 415, 422)
    def put(self, integration_id, model, record_id):
        """Replace a record's data (write access)"""
        return record_writing.replace(current_actor(), integration_id, model, record_id,
                                      _sent_json())

    @blp.doc(requestBody=RECORD_PATCH)
    @blp.response(200, RecordSchema)
    @blp.problems(400, 401, 403, 404, 413, 415, 422)
    def patch(self, integration_id, model, record_id):
        """Change some of a record's data: a JSON merge patch (write access)"""
        return record_writing.merge(current_actor(), integration_id, model, record_id,
                                    _sent_json())

    @blp.response(204)
    @blp.problems(401, 403, 404, 422)
    def delete(self, integration_id, model, record_id):
        """Delete a record (write access)"""
        record_writing.delete(current_actor(), integration_id, model, record_id)


@blp.route("/integrations/<integration_id>/store")
class Store(MethodView):
    @blp.arguments(StoreSchema)
    @blp.response(200, StoreResultSchema)
    @blp.problems(400, 401, 404, 413, 415, 422)
    def post(self, operation, integration_id):
        """Store operations: list (limit, offset), get (id) or sum (fields) on one model"""
        integration, answer = records.store(db_session(), current_user(), integration_id,
                                            operation)
        return {"links": _links(integration.id, "records.Store"), **answer}


@blp.route("/integrations/<integration_id>/import")
class Import(MethodView):
    @blp.arguments(ImportFormSchema, location="form", content_type="multipart/form-data")
    @blp.response(200, ImportResultSchema)
    @blp.problems(401, 403, 404, 413, 415, 422)
    def post(self, form, integration_id):
        """Upsert records by id from a CSV or JSON Lines file (all or nothing by default)"""
        lineages = form.get("lineages_file")
        result = record_imports.import_file(current_actor(), integration_id, form["model"],
                                            form["resources_file"].stream, form["partial"],
                                            lineages.stream if lineages is not None else None)
        return {"links": _links(result.found.integration.id, "records.Import"),
                "model": form["model"], "format": result.format, "created": result.created,
                "updated": result.updated, "errors": result.errors,
                "lineages": result.lineages}


@blp.route("/integrations/<integration_id>/lineage")
class Lineage(MethodView):
    @blp.arguments(LineageArgsSchema, location="query")
    @blp.response(200, LineageSchema)
    @blp.problems(401, 404, 422)
    def get(self, args, integration_id):
        """A record's lineage: the records it comes from and those it feeds"""
        integration, lineage = records.lineage(db_session(), current_user(), integration_id,
                                               args["model"], args["record_id"])
        return lineage_document(integration.id, lineage)


@blp.route("/integrations/<integration_id>/record-groups")
class RecordGroups(MethodView):
    @blp.arguments(RecordGroupArgsSchema, location="query")
    @blp.response(200, RecordGroupPageSchema)
    @blp.problems(401, 404, 422)
    def get(self, args, integration_id):
        """How many records hold each value of a data field, the largest groups first"""
        integration, groups = records.groups(db_session(), current_user(), integration_id,
                                             args["model"], args["column"], args.get("where"))
        return groups_document(integration.id, args, groups)
