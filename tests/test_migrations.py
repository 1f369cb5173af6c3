"""The schema comes from migrations: one head, reversible, and equal to the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from integration_hub.db import Base, migrations
from integration_hub.db.session import make_engine
from tests.conftest import BACKENDS


def test_single_head():
    assert len(migrations.heads("sqlite://")) == 1


def _differences(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


# SQLite cannot reflect expression indexes; PostgreSQL compares them.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_downgrade_upgrade_and_models_match(new_database_url, backend):
    from integration_hub.config import normalise_database_url

    url = normalise_database_url(new_database_url(backend))

    migrations.upgrade(url)
    assert _tables(url) == set(Base.metadata.tables)
    assert _differences(url) == []

    migrations.downgrade(url, "base")
    assert _tables(url) == set()

    migrations.upgrade(url)
    assert _differences(url) == []
