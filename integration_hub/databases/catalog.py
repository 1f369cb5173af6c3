"""What a database integration's account can see: its schemas, and in each the tables and
views with their columns, primary and foreign keys and indexes (``GET .../schema``).

Read through SQLAlchemy's inspector, a schema at a time (``get_multi_*``: on PostgreSQL a
few catalog queries per schema, not per table), on one connection of the integration's own
engine in a read-only transaction with a statement timeout, as a query is, so the account's
privileges decide what is read. The
schemas are those the account may use, less the database's own: PostgreSQL's
``pg_*`` and ``information_schema`` (and only schemas with USAGE granted), MySQL's and
MariaDB's system databases; SQLite has ``main``. A catalog of more than ``MAX_TABLES``
tables and views is cut there, and says so (docs/decisions.md, "Database integrations").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, inspect, text
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


def describe(engine: Engine, timeout_ms: int) -> dict[str, Any]:
    """``{schemas, tables, truncated}``: the default schema first, then the others by name;
    in each, tables and views by name. Read on one connection, in a read-only transaction
    whose statements stop at ``timeout_ms``, as a query's are."""
    dialect = engine.dialect.name
    try:
        with query_statements.read_only(engine, timeout_ms) as connection:
            if dialect == "postgresql":
                # Every schema by name, the referred one of a foreign key too: with the
                # search path left as the account has it, the default schema's tables
                # would be listed again under the schemas on the path.
                connection.exec_driver_sql("SET LOCAL search_path = pg_catalog")
            inspector = inspect(connection)
            schemas = visible_schemas(connection, inspector)
            tables: list[dict[str, Any]] = []
            for schema in schemas:
                names, views = _names_in(inspector, schema)
                room = MAX_TABLES - len(tables)
                tables += _described(connection, inspector, schema, names[:room], views)
                if len(names) > room:
                    return {"schemas": schemas, "tables": tables, "truncated": True}
            return {"schemas": schemas, "tables": tables, "truncated": False}
    except DBAPIError as failure:
        raise query_statements.translate(failure, dialect) from None


def visible_schemas(connection: Connection, inspector: Inspector) -> list[str]:
    """The schemas the account can use, the default one first."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        names = list(connection.execute(_USABLE_POSTGRES_SCHEMAS).scalars())
    elif dialect == "sqlite":
        names = ["main"]  # the authorizer allows no ATTACH: the file is all there is
    else:
        names = inspector.get_schema_names()
    names = [name for name in names if name not in SYSTEM_SCHEMAS.get(dialect, ())]
    default = inspector.default_schema_name
    return sorted(names, key=lambda name: (name != default, name))


def _names_in(inspector: Inspector, schema: str) -> tuple[list[str], set[str]]:
    """The schema's tables and views by name, and which of them are views."""
    asked = None if inspector.dialect.name == "sqlite" else schema
    views = set(inspector.get_view_names(schema=asked))
    if inspector.dialect.name == "postgresql":
        views.update(inspector.get_materialized_view_names(schema=asked))
    return sorted(set(inspector.get_table_names(schema=asked)) | views), views


def _described(connection: Connection, inspector: Inspector, schema: str, names: list[str],
               views: set[str]) -> list[dict[str, Any]]:
    """``names`` described in a few catalog reads. Where one of them cannot be read (MySQL: a
    view without SHOW VIEW; SQLite: a view of a table dropped since), each is read alone,
    and the one that fails is listed with ``error`` and no columns: one broken view does
    not hide the rest of the database. (PostgreSQL reads a view's columns off its catalog,
    which cannot fail so.)"""
    if not names:
        return []
    try:
        return _read(inspector, schema, names, views)
    except DBAPIError:
        if connection.dialect.name == "postgresql":
            raise  # the transaction is aborted: nothing more can be read on it
    described = []
    for name in names:
        try:
            described += _read(inspect(connection), schema, [name], views)
        except DBAPIError as failure:
            described.append({**_entry(schema, name, views), "columns": [],
                              "error": query_statements.message(failure)})
    return described


def _read(inspector: Inspector, schema: str, names: list[str],
          views: set[str]) -> list[dict[str, Any]]:
    # SQLite's one schema unnamed: its reflection keys "main" as None.
    asked = None if inspector.dialect.name == "sqlite" else schema
    wanted = {"schema": asked, "filter_names": names, "kind": ObjectKind.ANY}
    columns = inspector.get_multi_columns(**wanted)
    keys = inspector.get_multi_pk_constraint(**wanted)
    foreign = inspector.get_multi_foreign_keys(**wanted)
    indexes = inspector.get_multi_indexes(**wanted)
    described = []
    for name in names:
        key = (asked, name)
        described.append({
            **_entry(schema, name, views),
            "columns": [{"name": column["name"], "type": str(column["type"]).lower(),
                         "nullable": bool(column.get("nullable", True))}
                        for column in columns.get(key, [])],
            "primary_key": list((keys.get(key) or {}).get("constrained_columns") or []),
            # A referred schema left unnamed is the referring table's own (MySQL, SQLite;
            # PostgreSQL names it, with the search path emptied above).
            "foreign_keys": [{"name": fk.get("name"), "columns": fk["constrained_columns"],
                              "referred_schema": fk.get("referred_schema") or schema,
                              "referred_table": fk["referred_table"],
                              "referred_columns": fk["referred_columns"]}
                             for fk in foreign.get(key, [])],
            "indexes": [{"name": index["name"],
                         "columns": [column for column in index["column_names"] if column],
                         "unique": bool(index.get("unique"))}
                        for index in indexes.get(key, [])],
        })
    return described


def _entry(schema: str, name: str, views: set[str]) -> dict[str, Any]:
    return {"schema": schema, "name": name, "kind": "view" if name in views else "table",
            "primary_key": [], "foreign_keys": [], "indexes": []}
