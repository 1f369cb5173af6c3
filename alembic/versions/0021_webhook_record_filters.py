"""webhooks narrowed to one integration and one records model for record events

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06

Existing webhooks get neither: they keep receiving every event they subscribe to. A
webhook narrowed to an integration is deleted with it (ON DELETE CASCADE): with SET NULL
it would silently widen to every integration's records (docs/decisions.md, "Record events
and batching"). The index serves that cascade and the lookup of an event's webhooks.

Going back forgets the narrowing, so narrowed webhooks are switched off first, saying why:
upgraded again, they would otherwise receive every integration's records.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic.operations import BatchOperations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

DOWNGRADE_REASON = ("switched off when the hub was downgraded: it was narrowed to one "
                    "integration or model, which this version cannot keep")
# What refers to webhooks, directly or through each other: parents first.
DEPENDENTS = ("webhook_deliveries", "webhook_attempts")


@contextmanager
def altering_webhooks() -> Iterator[BatchOperations]:
    """``webhooks`` altered in batch mode. SQLite cannot add or drop a foreign key in place:
    it copies the table and drops the old one, which (foreign keys on) would delete every
    delivery and attempt with it, so they are set aside in temporary tables and put back.
    Only ``webhooks`` is reflected (``integrations`` has an expression index SQLite cannot
    reflect)."""
    sqlite = op.get_context().dialect.name == "sqlite"
    if sqlite:
        for table in DEPENDENTS:
            op.execute(sa.text(f"CREATE TEMPORARY TABLE kept_{table} AS SELECT * FROM {table}"))
        op.execute(sa.text("DELETE FROM webhook_deliveries"))  # their attempts go with them
    with op.batch_alter_table("webhooks", reflect_kwargs={"resolve_fks": False}) as batch:
        yield batch
    if sqlite:
        for table in DEPENDENTS:
            op.execute(sa.text(f"INSERT INTO {table} SELECT * FROM kept_{table}"))
            op.execute(sa.text(f"DROP TABLE kept_{table}"))


def upgrade() -> None:
    with altering_webhooks() as batch:
        batch.add_column(sa.Column("integration_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("model", sa.String(64), nullable=True))
        batch.create_foreign_key(op.f("fk_webhooks_integration_id_integrations"),
                                 "integrations", ["integration_id"], ["id"], ondelete="CASCADE")
        batch.create_index(op.f("ix_webhooks_integration_id"), ["integration_id"])


def downgrade() -> None:
    op.execute(sa.text(
        "UPDATE webhooks SET enabled = :off, disabled_at = CURRENT_TIMESTAMP, "
        "disabled_reason = :reason WHERE integration_id IS NOT NULL OR model IS NOT NULL")
        .bindparams(off=False, reason=DOWNGRADE_REASON))
    with altering_webhooks() as batch:
        batch.drop_index(op.f("ix_webhooks_integration_id"))
        batch.drop_constraint(op.f("fk_webhooks_integration_id_integrations"),
                              type_="foreignkey")
        batch.drop_column("model")
        batch.drop_column("integration_id")
