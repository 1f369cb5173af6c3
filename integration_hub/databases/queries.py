"""Database integrations (docs/decisions.md, "Database integrations"): which engine serves a
caller's query, the schema, the connection test.

An integration's engine connects with the caller's own account (per-user mode) or the
integration's; engines are pooled per integration and account (a bounded number) and disposed
when the integration changes; SQLite files are opened per query. The statement itself runs in
databases/query_statements.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from integration_hub import crypto, errors
from integration_hub.config import current_settings
from integration_hub.connections import connect_rules
from integration_hub.connections import store as connections
from integration_hub.databases import accounts as database_accounts
from integration_hub.databases import catalog, query_statements, query_values, sqlite_connections
from integration_hub.databases import dialects as database_dialects
from integration_hub.databases import drivers as database_drivers
from integration_hub.databases import hosts as database_hosts
from integration_hub.databases import options as database_options
from integration_hub.databases.query_statements import ROW_FORMATS as ROW_FORMATS  # for the view
from integration_hub.databases.query_statements import run_query as run_query  # for the view
from integration_hub.databases.sqlite_files import SqliteFiles
from integration_hub.db.models import Integration, Tenant, User
from integration_hub.db.session import end_transaction
from integration_hub.integrations import store as integrations
from integration_hub.integrations.acl import Access, require
from integration_hub.integrations.store import Found
from integration_hub.outbound.upstream_http import shared_pool
from integration_hub.proxy import forwarding

MAX_ENGINES = 32
DEFAULT_LIMIT, MAX_LIMIT = 1000, 10000
DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS = 30_000, 300_000


class NotADatabase(errors.Conflict):
    code, title = "not_a_database", "This integration is not a database"


def is_database(integration: Integration) -> bool:
    return database_dialects.integration_dialect(integration) is not None


def _credentials(session: Session, user: User, integration: Integration) -> tuple[str | None, str | None]:
    """(username, password): the caller's own (per-user mode) or the integration's."""
    data = integration.data or {}
    if integration.mode == "per-user":
        own = connections.credentials_of(connections.connection_of(session, user, integration))
        if not own:
            raise connect_rules.NotConnected("connect with your database username and password",
                                             integration=integration)
        return own.get("username"), own.get("password")
    stored = crypto.decrypt(integration.credentials_encrypted)
    secrets = json.loads(stored) if stored else {}
    return secrets.get("username") or data.get("username"), secrets.get("password")


def database_url(integration: Integration, username: str | None, password: str | None,
                 sqlite: SqliteFiles) -> URL:
    data = integration.data or {}
    dialect = database_dialects.integration_dialect(integration)
    if dialect == "sqlite":
        return sqlite.url(str(data.get("path") or ""))
    driver = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}[dialect]
    options = data.get("options")
    if dialect == "postgresql" and data.get("sslmode") and isinstance(options or {}, dict):
        options = {**(options or {}), "sslmode": data["sslmode"]}
    # Checked again here, not only on save: rows stored before the allow-list existed.
    query = {name: database_options.as_text(value)
             for name, value in database_options.read(dialect, options).items()}
    # Every value given, so the driver fills none from the hub's machine (database_hosts).
    host, port = database_hosts.require_server(dialect, data)
    database_hosts.require_login(data.get("database"), username, password)
    return URL.create(driver, username=username, password=password, host=host, port=port,
                      database=data["database"], query=query)


class EnginePool:
    """At most ``MAX_ENGINES`` engines, least recently used first out."""

    def __init__(self) -> None:
        self._engines: OrderedDict[tuple, Engine] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, url: URL, guard: database_hosts.Guard) -> Engine:
        key = (*key, guard)
        with self._lock:
            engine = self._engines.pop(key, None)
            if engine is None:
                engine = _make_engine(url, guard)
            self._engines[key] = engine
            while len(self._engines) > MAX_ENGINES:
                _, old = self._engines.popitem(last=False)
                old.dispose()
            return engine

    def forget(self, integration_id: str) -> None:
        with self._lock:
            for key in [k for k in self._engines if k[0] == integration_id]:
                self._engines.pop(key).dispose()


ENGINES = EnginePool()


def _make_engine(url: URL, guard: database_hosts.Guard) -> Engine:
    backend = url.get_backend_name()
    # The options travel in the URL's query; the driver gets them as typed arguments.
    options = database_options.read(backend, dict(url.query))
    # The query chooses how deep its JSON nests: psycopg's own loader would raise
    # RecursionError; the hub's refuses what is too deep to answer (databases/query_values.py).
    engine = create_engine(url.set(query={}), hide_parameters=True, pool_size=2, max_overflow=4,
                           pool_pre_ping=True, pool_recycle=1800,
                           json_deserializer=query_values.read_json,
                           connect_args=database_drivers.connect_args(backend, options))
    database_drivers.prepare(engine, guard)
    database_accounts.check_new_connections(engine)
    if backend == "postgresql":
        event.listen(engine, "checkin", _postgres_forget_session)
    return engine


def _postgres_forget_session(dbapi_connection, _record) -> None:
    """A pooled connection goes back clean: no SET ROLE or settings survive a query."""
    try:
        dbapi_connection.rollback()
        dbapi_connection.autocommit = True
        dbapi_connection.execute("DISCARD ALL")
    except Exception:  # noqa: BLE001 - a broken connection is discarded by the pool anyway
        pass
    finally:
        try:
            dbapi_connection.autocommit = False
        except Exception:  # noqa: BLE001
            pass


@event.listens_for(Integration, "after_update")
@event.listens_for(Integration, "after_delete")
def _forget_engines(_mapper, _connection, integration: Integration) -> None:
    ENGINES.forget(integration.id)


def engine_for(session: Session, user: User, found: Found, sqlite: SqliteFiles) -> Engine:
    require(found.access, Access.READ)
    integration = found.integration
    if not is_database(integration):
        raise NotADatabase("this integration is not a database (type postgresql, mysql, "
                           "sqlite, or database with data.dialect)")
    connections.require_enabled(integration)
    database_drivers.require_driver(database_dialects.integration_dialect(integration))
    username, password = _credentials(session, user, integration)
    url = database_url(integration, username, password, sqlite)
    if url.get_backend_name() == "sqlite":  # never pooled: opened as just checked, per query
        return sqlite_connections.engine(url, sqlite.max_value_bytes)
    key = (integration.id, integration.updated_at.isoformat() if integration.updated_at else "",
           username or "", crypto.fingerprint(password))
    return ENGINES.get(key, url, database_hosts.Guard.of(current_settings()))


def engine_of(session: Session, user: User, integration_id: str) -> Engine:
    """The integration's engine, with the hub's own transaction ended: nothing of the hub's
    database is held while the integration's database answers (or does not)."""
    found = integrations.find(session, user, integration_id)
    engine = engine_for(session, user, found, SqliteFiles.of(current_settings()))
    end_transaction(session)
    return engine


def query(session: Session, user: User, integration_id: str, sql: str,
          params: Mapping[str, Any] | None, limit: int,
          timeout_ms: int, row_format: str = "arrays") -> query_statements.QueryResult:
    """A read-only query on the integration's database (bound parameters only)."""
    engine = engine_of(session, user, integration_id)
    return run_query(engine, sql, params, limit, timeout_ms, current_settings().query_max_bytes,
                     row_format)


def schema(session: Session, user: User, integration_id: str) -> dict[str, Any]:
    """What the account can see of the database (databases/catalog.py)."""
    return catalog.describe(engine_of(session, user, integration_id), DEFAULT_TIMEOUT_MS)


# -- test --------------------------------------------------------------------

def ping(engine: Engine) -> tuple[bool, int, str | None, str | None]:
    """(ok, latency in ms, error, its problem code): connect, select, and check the account
    afresh (a pooled connection was checked when it was opened)."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
            database_accounts.require_least_privilege(engine, connection.connection.driver_connection)
        return True, took(), None, None
    except database_accounts.DatabaseAccountTooPowerful as refused:
        engine.dispose()  # no pooled connection of this account serves another query
        return False, took(), refused.detail, refused.code
    except errors.HubError as refused:  # the address or server checked on connecting
        return False, took(), refused.detail, refused.code
    except DBAPIError as failure:
        problem = query_statements.translate(failure, engine.dialect.name)
        return False, took(), problem.detail, problem.code
    except SQLAlchemyError as failure:
        return False, took(), query_statements.message(failure), query_statements.QueryFailed.code


def check(session: Session, user: User, integration_id: str) -> dict[str, Any]:
    """``POST .../test``: connect to a database integration, or GET ``data.healthCheck``
    of any other through the proxy; with no transaction of the hub's open meanwhile."""
    settings = current_settings()
    found = integrations.find(session, user, integration_id)
    require(found.access, Access.READ)
    if is_database(found.integration):
        engine = engine_for(session, user, found, SqliteFiles.of(settings))
        end_transaction(session)  # nothing held while the database answers
        ok, latency, error, code = ping(engine)
    else:
        code = None
        ok, latency, error = forwarding.health_check(
            session, user, session.get(Tenant, user.tenant_id), found, settings,
            shared_pool(settings.proxy_deny_private))
    return {"ok": ok, "latency_ms": latency, "error": error, "code": code}
