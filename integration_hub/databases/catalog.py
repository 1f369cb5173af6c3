"""What a database integration's account can see: its schemas, and in each the tables and
views with their columns, primary and foreign keys and indexes (``GET .../schema``).

Read through SQLAlchemy's inspector, a schema at a time (``get_multi_*``: on PostgreSQL a
few catalog queries per schema, not per table), on the integration's own engine, so the
database's read-only settings and the account's privileges decide what is read. The
schemas are those the account may use, less the database's own: PostgreSQL's
``pg_*`` and ``information_schema`` (and only schemas with USAGE granted), MySQL's and
MariaDB's system databases; SQLite has ``main``. A catalog of more than ``MAX_TABLES``
tables and views is cut there, and says so (docs/decisions.md, "Database integrations").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine.reflection import Inspector, ObjectKind
from sqlalchemy.exc import DBAPIError

from integration_hub.databases import query_statements

MAX_TABLES = 2000  # tables and views in one answer
SYSTEM_SCHEMAS = {"mysql": frozenset({"information_schema", "performance_schema", "mysql",
                                      "sys"}),
                  "postgresql": frozenset({"information_schema"})}
_USABLE_POSTGRES_SCHEMAS = text(
    "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
    "AND has_schema_privilege(oid, 'USAGE') ORDER BY nspname")


def describe(engine: Engine) -> dict[str, Any]:
    """``{schemas, tables, truncated}``: the default schema first, then the others by name;
    in each, tables and views by name."""
    try:
        inspector = inspect(engine)
        schemas = visible_schemas(engine, inspector)
        tables: list[dict[str, Any]] = []
        for schema in schemas:
            tables += _tables_of(inspector, schema, schema == inspector.default_schema_name,
                                 MAX_TABLES + 1 - len(tables))
            if len(tables) > MAX_TABLES:
                return {"schemas": schemas, "tables": tables[:MAX_TABLES], "truncated": True}
        return {"schemas": schemas, "tables": tables, "truncated": False}
    except DBAPIError as failure:
        raise query_statements.translate(failure, engine.dialect.name) from None


def visible_schemas(engine: Engine, inspector: Inspector) -> list[str]:
    """The schemas the account can use, the default one first."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        with engine.connect() as connection:
            names = list(connection.execute(_USABLE_POSTGRES_SCHEMAS).scalars())
    elif dialect == "sqlite":
        names = ["main"]  # the authorizer allows no ATTACH: the file is all there is
    else:
        names = inspector.get_schema_names()
    names = [name for name in names if name not in SYSTEM_SCHEMAS.get(dialect, ())]
    default = inspector.default_schema_name
    return sorted(names, key=lambda name: (name != default, name))


def _tables_of(inspector: Inspector, schema: str, default: bool,
               room: int) -> list[dict[str, Any]]:
    asked = None if default else schema  # the default schema unnamed, as the database has it
    views = set(inspector.get_view_names(schema=asked))
    if inspector.dialect.name == "postgresql":
        views.update(inspector.get_materialized_view_names(schema=asked))
    names = sorted(set(inspector.get_table_names(schema=asked)) | views)[:room]
    if not names:
        return []
    wanted = {"schema": asked, "filter_names": names, "kind": ObjectKind.ANY}
    columns = inspector.get_multi_columns(**wanted)
    keys = inspector.get_multi_pk_constraint(**wanted)
    foreign = inspector.get_multi_foreign_keys(**wanted)
    indexes = inspector.get_multi_indexes(**wanted)
    # A foreign key's schema left unnamed: PostgreSQL leaves out the default schema (the
    # search path's); the others, the referring table's own.
    unnamed = inspector.default_schema_name if inspector.dialect.name == "postgresql" else schema
    described = []
    for name in names:
        key = (asked, name)
        described.append({
            "schema": schema, "name": name, "kind": "view" if name in views else "table",
            "columns": [{"name": column["name"], "type": str(column["type"]).lower(),
                         "nullable": bool(column.get("nullable", True))}
                        for column in columns.get(key, [])],
            "primary_key": list((keys.get(key) or {}).get("constrained_columns") or []),
            "foreign_keys": [{"name": fk.get("name"), "columns": fk["constrained_columns"],
                              "referred_schema": fk.get("referred_schema") or unnamed,
                              "referred_table": fk["referred_table"],
                              "referred_columns": fk["referred_columns"]}
                             for fk in foreign.get(key, [])],
            "indexes": [{"name": index["name"],
                         "columns": [column for column in index["column_names"] if column],
                         "unique": bool(index.get("unique"))}
                        for index in indexes.get(key, [])],
        })
    return described
