"""Pooled PostgreSQL connections the server dropped while they sat idle are replaced
before a request uses them; busy connections are not checked on every request."""

import psycopg
import pytest
from sqlalchemy import text

from integration_hub import errors
from integration_hub.config import normalise_database_url
from integration_hub.db.session import make_engine
from tests.conftest import missing_component


@pytest.fixture
def postgres_url(new_database_url):
    try:
        return normalise_database_url(new_database_url("postgresql"))
    except psycopg.OperationalError as failure:
        missing_component(f"PostgreSQL is not reachable: {failure}")


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(url: str, pid: int) -> None:
    """What a server restart or an idle timeout does to one pooled connection."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_connection_dropped_while_idle_is_replaced(postgres_url):
    engine = make_engine(postgres_url, idle_before_ping=0.0, pool_size=1, max_overflow=1)
    try:
        dropped = _backend_pid(engine)
        _terminate(postgres_url, dropped)
        assert _backend_pid(engine) != dropped  # answered on a new connection, no error
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_checked(postgres_url):
    # The price of not pinging busy connections: one dropped within IDLE_BEFORE_PING of
    # its last use fails the statement that finds out (and is then replaced); the request
    # that made it answers 503 database_unavailable.
    engine = make_engine(postgres_url, idle_before_ping=60.0, pool_size=1, max_overflow=0)
    try:
        dropped = _backend_pid(engine)
        _terminate(postgres_url, dropped)
        with pytest.raises(errors.DatabaseUnavailable):
            _backend_pid(engine)
        assert _backend_pid(engine) != dropped
    finally:
        engine.dispose()
