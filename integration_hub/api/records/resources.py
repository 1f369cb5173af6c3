"""``/api/integrations/{id}/records``, ``/store``, ``/import`` and ``/lineage``: the records
store."""

from flask import request
from flask.views import MethodView
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import PathConverter

from integration_hub import errors
from integration_hub.api.common import hal_page, href
from integration_hub.api.extensions import Blueprint
from integration_hub.api.records.schemas import (
    ImportFormSchema,
    ImportResultSchema,
    LineageArgsSchema,
    LineageSchema,
    RecordArgsSchema,
    RecordPageSchema,
    RecordSchema,
    StoreResultSchema,
    StoreSchema,
    lineage_document,
)
from integration_hub.config import current_settings
from integration_hub.db.session import db_session
from integration_hub.edge.security import current_actor, current_user
from integration_hub.hal import documents as hal
from integration_hub.records import imports as record_imports
from integration_hub.records import reading as records

blp = Blueprint("records", __name__, url_prefix="/api",
                description="Records an integration feeds into the hub: store, import, lineage")
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
        integration, items, total = records.page(
            db_session(), current_user(), integration_id, args.get("model"), args["start"],
            args["limit"], args["include_deleted"])
        return hal_page("records.Records", "inf:record", items, args["start"], args["limit"],
                        total, integration_id=integration.id)


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
