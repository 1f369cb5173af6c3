"""Revision 0021 (webhooks narrowed to an integration and a model): deliveries and their
attempts survive it both ways, on SQLite too, where the webhooks table is copied; going
back switches narrowed webhooks off rather than letting them widen."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_hub.config import normalise_database_url
from integration_hub.db import migrations
from integration_hub.db.models import Tenant, Webhook, WebhookAttempt, WebhookDelivery
from integration_hub.db.session import make_engine
from integration_hub.db.types import utcnow
from tests.conftest import BACKENDS


def _hook(narrowed: bool) -> Webhook:
    return Webhook(tenant_id="default", url="https://receiver.example/hook", secret_encrypted="x",
                   hub_url="https://hub.example", created_by="a", events=["*"],
                   model="contacts" if narrowed else None)


@pytest.mark.parametrize("backend", BACKENDS)
def test_deliveries_survive_and_narrowed_webhooks_are_switched_off_going_back(
        new_database_url, backend):
    url = normalise_database_url(new_database_url(backend))
    migrations.upgrade(url)
    engine = make_engine(url)

    def history() -> list[tuple]:
        with Session(engine) as session:
            return sorted(session.execute(
                select(WebhookDelivery.event_id, WebhookDelivery.status, WebhookAttempt.number,
                       WebhookAttempt.outcome).join(WebhookAttempt, isouter=True)).all())

    def hooks() -> dict[str, tuple]:
        with engine.connect() as connection:
            return {row.url: (row.enabled, row.disabled_reason is not None) for row in
                    connection.exec_driver_sql("SELECT url, enabled, disabled_reason "
                                               "FROM webhooks")}

    try:
        with Session(engine) as session:
            session.add(Tenant(id="default", name="Default", settings={}))
            plain, narrowed = _hook(False), _hook(True)
            narrowed.url += "/narrowed"
            session.add_all([plain, narrowed])
            session.flush()
            delivery = WebhookDelivery(webhook_id=narrowed.id, event_id="e1", event_type="t",
                                       body="{}", status="failed", max_attempts=1)
            session.add_all([delivery, WebhookDelivery(webhook_id=plain.id, event_id="e2",
                                                       event_type="t", body="{}",
                                                       status="pending", max_attempts=3)])
            session.flush()
            session.add(WebhookAttempt(delivery_id=delivery.id, number=1, started_at=utcnow(),
                                       duration_ms=5, outcome="failed"))
            session.commit()
        before = history()
        engine.dispose()

        migrations.downgrade(url, "0020")
        assert history() == before
        assert hooks() == {"https://receiver.example/hook": (True, False),
                           "https://receiver.example/hook/narrowed": (False, True)}
        engine.dispose()
        migrations.upgrade(url)
        assert history() == before
    finally:
        engine.dispose()
