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


@pytest.mark.parametrize("backend", BACKENDS)
def test_deliveries_that_reached_their_receiver_say_succeeded_after_the_upgrade(
        new_database_url, backend):
    """Deliveries stored as ``delivered`` read ``succeeded`` (the word of attempts, the
    webhook's lastDeliveryStatus and sync runs); going back restores the old word."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from integration_hub.config import normalise_database_url
    from integration_hub.db.models import Tenant, Webhook, WebhookDelivery

    url = normalise_database_url(new_database_url(backend))
    migrations.upgrade(url)
    engine = make_engine(url)

    def statuses() -> list[tuple[str, str]]:
        with Session(engine) as session:
            return sorted(session.execute(select(WebhookDelivery.event_id,
                                                 WebhookDelivery.status)).all())

    try:
        with Session(engine) as session:
            session.add(Tenant(id="default", name="Default", settings={}))
            hook = Webhook(tenant_id="default", url="https://receiver.example/hook",
                           secret_encrypted="x", hub_url="https://hub.example", created_by="a")
            session.add(hook)
            session.flush()
            session.add_all([WebhookDelivery(webhook_id=hook.id, event_id=event, event_type="t",
                                             body="{}", status=status, max_attempts=3)
                             for event, status in [("old", "delivered"), ("failed", "failed"),
                                                   ("pending", "pending")]])
            session.commit()
        engine.dispose()
        migrations.downgrade(url, "0017")  # as an earlier hub left them
        migrations.upgrade(url)
        assert statuses() == [("failed", "failed"), ("old", "succeeded"), ("pending", "pending")]
        engine.dispose()
        migrations.downgrade(url, "0017")
        assert statuses() == [("failed", "failed"), ("old", "delivered"), ("pending", "pending")]
    finally:
        engine.dispose()
