"""Database integrations: read-only queries, the schema, and testing any integration."""

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from integration_hub.api.extensions import Blueprint
from integration_hub.api.proxy.resources import upstream_pool
from integration_hub.databases import queries as dbquery
from integration_hub.databases.sqlite_files import SqliteFiles
from integration_hub.db.session import db_session, end_transaction
from integration_hub.edge.security import current_tenant, current_user
from integration_hub.integrations import store as integrations
from integration_hub.integrations.acl import Access, require
from integration_hub.proxy import forwarding as proxy

blp = Blueprint("database", __name__, url_prefix="/api",
                description="Database integrations and connection tests")


class QuerySchema(ma.Schema):
    sql = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100_000))
    params = ma.fields.Dict(keys=ma.fields.String(), load_default=None, allow_none=True,
                            metadata={"description": "Bound parameters, named :name in the SQL"})
    limit = ma.fields.Integer(load_default=dbquery.DEFAULT_LIMIT,
                              validate=ma.validate.Range(min=1, max=dbquery.MAX_LIMIT))
    timeout_ms = ma.fields.Integer(data_key="timeoutMs", load_default=dbquery.DEFAULT_TIMEOUT_MS,
                                   validate=ma.validate.Range(min=1, max=dbquery.MAX_TIMEOUT_MS))


class ColumnSchema(ma.Schema):
    name = ma.fields.String()
    type = ma.fields.String()


class QueryResultSchema(ma.Schema):
    columns = ma.fields.List(ma.fields.Nested(ColumnSchema))
    rows = ma.fields.List(ma.fields.List(ma.fields.Raw(allow_none=True)))
    row_count = ma.fields.Function(lambda r: len(r.rows), data_key="rowCount")
    truncated = ma.fields.Boolean()


class TableColumnSchema(ColumnSchema):
    nullable = ma.fields.Boolean()


class TableSchema(ma.Schema):
    name = ma.fields.String()
    columns = ma.fields.List(ma.fields.Nested(TableColumnSchema))


class DatabaseSchemaSchema(ma.Schema):
    tables = ma.fields.List(ma.fields.Nested(TableSchema))


class TestResultSchema(ma.Schema):
    ok = ma.fields.Boolean()
    latency_ms = ma.fields.Integer(data_key="latencyMs")
    error = ma.fields.String(allow_none=True)
    code = ma.fields.String(allow_none=True, metadata={
        "description": "The problem code of a database's failure (database_unreachable, "
                       "database_timeout, database_account_too_powerful ...)"})


def _engine(integration_id):
    """The integration's engine, with the hub's own transaction ended: nothing of the hub's
    database is held while the integration's database answers (or does not)."""
    session, user = db_session(), current_user()
    found = integrations.find(session, user, integration_id)
    engine = dbquery.engine_for(session, user, found,
                                SqliteFiles.of(current_app.config["HUB_SETTINGS"]))
    end_transaction(session)
    return engine


@blp.route("/integrations/<integration_id>/query")
class Query(MethodView):
    @blp.arguments(QuerySchema)
    @blp.response(200, QueryResultSchema, content_type="application/json")
    @blp.problems(400, 401, 404, 409, 413, 415, 501, 502, 504)
    def post(self, query, integration_id):
        """Run a read-only query (bound parameters only)"""
        engine = _engine(integration_id)
        return dbquery.run_query(engine, query["sql"], query["params"], query["limit"],
                                 query["timeout_ms"],
                                 current_app.config["HUB_SETTINGS"].query_max_bytes)


@blp.route("/integrations/<integration_id>/schema")
class Schema(MethodView):
    @blp.response(200, DatabaseSchemaSchema, content_type="application/json")
    @blp.problems(401, 404, 409, 422, 501, 502, 504)
    def get(self, integration_id):
        """Tables and columns of the database"""
        return {"tables": dbquery.describe(_engine(integration_id))}


@blp.route("/integrations/<integration_id>/test")
class Test(MethodView):
    @blp.response(200, TestResultSchema, content_type="application/json")
    @blp.problems(401, 404, 409, 422, 501)
    def post(self, integration_id):
        """Check the configuration: connect to a database, or GET data.healthCheck"""
        session, user = db_session(), current_user()
        settings = current_app.config["HUB_SETTINGS"]
        found = integrations.find(session, user, integration_id)
        require(found.access, Access.READ)
        if dbquery.is_database(found.integration):
            engine = dbquery.engine_for(session, user, found, SqliteFiles.of(settings))
            end_transaction(session)  # nothing held while the database answers
            ok, latency, error, code = dbquery.ping(engine)
        else:
            code = None
            ok, latency, error = proxy.health_check(session, user, current_tenant(), found,
                                                    settings, upstream_pool())
        return {"ok": ok, "latency_ms": latency, "error": error, "code": code}
