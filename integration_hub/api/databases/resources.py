"""Database integrations: read-only queries, the schema, and testing any integration."""

import marshmallow as ma
from flask.views import MethodView

from integration_hub.api.extensions import Blueprint
from integration_hub.databases import queries as dbquery
from integration_hub.db.session import db_session
from integration_hub.edge.security import current_user

blp = Blueprint("database", __name__, url_prefix="/api",
                description="Database integrations and connection tests")


class QuerySchema(ma.Schema):
    sql = ma.fields.String(validate=ma.validate.Length(min=1, max=100_000), metadata={
        "description": "The statement (one of sql and query is required)"})
    query = ma.fields.String(validate=ma.validate.Length(min=1, max=100_000), metadata={
        "description": "Another name for sql (as Nanonets' executequery calls it)"})
    params = ma.fields.Dict(keys=ma.fields.String(), load_default=None, allow_none=True,
                            metadata={"description": "Bound parameters, named :name in the SQL"})
    limit = ma.fields.Integer(load_default=dbquery.DEFAULT_LIMIT,
                              validate=ma.validate.Range(min=1, max=dbquery.MAX_LIMIT))
    timeout_ms = ma.fields.Integer(data_key="timeoutMs", load_default=dbquery.DEFAULT_TIMEOUT_MS,
                                   validate=ma.validate.Range(min=1, max=dbquery.MAX_TIMEOUT_MS))
    row_format = ma.fields.String(data_key="rowFormat", load_default="arrays",
                                  validate=ma.validate.OneOf(dbquery.ROW_FORMATS), metadata={
                                      "description": "arrays: each row its values in column "
                                                     "order; objects: column name -> value"})

    @ma.validates_schema
    def _one_statement(self, values, **kwargs):
        if "sql" in values and "query" in values:
            raise ma.ValidationError("give the statement as sql or as query, not both",
                                     field_name="query")
        if "sql" not in values and "query" not in values:
            raise ma.ValidationError("Missing data for required field.", field_name="sql")


class ColumnSchema(ma.Schema):
    name = ma.fields.String()
    type = ma.fields.String()


class QueryResultSchema(ma.Schema):
    columns = ma.fields.List(ma.fields.Nested(ColumnSchema))
    rows = ma.fields.List(ma.fields.Raw(), metadata={
        "description": "Each row an array of values in column order, or with rowFormat "
                       "objects, an object of them by column name"})
    row_count = ma.fields.Function(lambda r: len(r.rows), data_key="rowCount")
    truncated = ma.fields.Boolean()


class TableColumnSchema(ColumnSchema):
    nullable = ma.fields.Boolean()


class ForeignKeySchema(ma.Schema):
    name = ma.fields.String(allow_none=True)
    columns = ma.fields.List(ma.fields.String())
    referred_schema = ma.fields.String(data_key="referredSchema")
    referred_table = ma.fields.String(data_key="referredTable")
    referred_columns = ma.fields.List(ma.fields.String(), data_key="referredColumns")


class IndexSchema(ma.Schema):
    name = ma.fields.String(allow_none=True)
    columns = ma.fields.List(ma.fields.String(), metadata={
        "description": "The indexed columns (expressions are left out)"})
    unique = ma.fields.Boolean()


class TableSchema(ma.Schema):
    schema = ma.fields.String(metadata={"description": "The schema (MySQL: the database) "
                                                       "holding it; SQLite: main"})
    name = ma.fields.String()
    kind = ma.fields.String(metadata={"description": "table or view"})
    columns = ma.fields.List(ma.fields.Nested(TableColumnSchema))
    primary_key = ma.fields.List(ma.fields.String(), data_key="primaryKey")
    foreign_keys = ma.fields.List(ma.fields.Nested(ForeignKeySchema), data_key="foreignKeys")
    indexes = ma.fields.List(ma.fields.Nested(IndexSchema))
    error = ma.fields.String(metadata={
        "description": "Present when the database could not describe this table or view "
                       "(a view the account may not read, or whose tables are gone): its "
                       "message, and no columns"})


class DatabaseSchemaSchema(ma.Schema):
    schemas = ma.fields.List(ma.fields.String(), metadata={
        "description": "The schemas the account can use, the default one first"})
    tables = ma.fields.List(ma.fields.Nested(TableSchema))
    truncated = ma.fields.Boolean(metadata={
        "description": "True when the database holds more tables and views than one answer "
                       "lists (2,000)"})


class TestResultSchema(ma.Schema):
    ok = ma.fields.Boolean()
    latency_ms = ma.fields.Integer(data_key="latencyMs")
    error = ma.fields.String(allow_none=True)
    code = ma.fields.String(allow_none=True, metadata={
        "description": "The problem code of a database's failure (database_unreachable, "
                       "database_timeout, database_account_too_powerful ...)"})


@blp.route("/integrations/<integration_id>/query")
class Query(MethodView):
    @blp.arguments(QuerySchema)
    @blp.response(200, QueryResultSchema, content_type="application/json")
    @blp.problems(400, 401, 404, 409, 413, 415, 501, 502, 504)
    def post(self, query, integration_id):
        """Run a read-only query (bound parameters only)"""
        return dbquery.query(db_session(), current_user(), integration_id,
                             query.get("sql") or query["query"], query["params"], query["limit"],
                             query["timeout_ms"], query["row_format"])


@blp.route("/integrations/<integration_id>/schema")
class Schema(MethodView):
    @blp.response(200, DatabaseSchemaSchema, content_type="application/json")
    @blp.problems(401, 404, 409, 422, 501, 502, 504)
    def get(self, integration_id):
        """Schemas, tables and views of the database: columns, keys and indexes"""
        return dbquery.schema(db_session(), current_user(), integration_id)


@blp.route("/integrations/<integration_id>/test")
class Test(MethodView):
    @blp.response(200, TestResultSchema, content_type="application/json")
    @blp.problems(401, 404, 409, 422, 501)
    def post(self, integration_id):
        """Check the configuration: connect to a database, or GET data.healthCheck"""
        return dbquery.check(db_session(), current_user(), integration_id)
