"""webhook claims with a token, deliveries waiting for a slot, attempt numbers unique;
audit entries that count repeats; the audit and request logs found by time for pruning

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

Attempt numbers recorded twice by two workers (the lost update this revision ends) are
numbered afresh in the order the attempts started, and their deliveries' attempt counts
set to the attempts recorded, before the numbers are made unique.
"""

import sqlalchemy as sa

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

STAMP = sa.DateTime(timezone=True)

_DOUBLED = ("SELECT delivery_id FROM webhook_attempts GROUP BY delivery_id, number "
            "HAVING count(*) > 1")


def _renumber_doubled_attempts() -> None:
    op.execute(sa.text(
        "UPDATE webhook_attempts SET number = (SELECT count(*) FROM webhook_attempts earlier "
        "WHERE earlier.delivery_id = webhook_attempts.delivery_id "
        "AND (earlier.started_at < webhook_attempts.started_at "
        "OR (earlier.started_at = webhook_attempts.started_at "
        "AND earlier.id <= webhook_attempts.id))) "
        f"WHERE delivery_id IN ({_DOUBLED})"))
    op.execute(sa.text(
        "UPDATE webhook_deliveries SET attempt_count = (SELECT count(*) FROM webhook_attempts "
        "WHERE webhook_attempts.delivery_id = webhook_deliveries.id) "
        "WHERE attempt_count < (SELECT count(*) FROM webhook_attempts "
        "WHERE webhook_attempts.delivery_id = webhook_deliveries.id)"))


def upgrade() -> None:
    op.add_column("webhook_deliveries", sa.Column("claim_token", sa.String(36), nullable=True))
    op.add_column("webhook_deliveries", sa.Column("waiting", sa.Boolean(), nullable=False,
                                                  server_default=sa.false()))
    op.create_index("ix_webhook_deliveries_claimed_until", "webhook_deliveries",
                    ["claimed_until"])
    _renumber_doubled_attempts()
    op.drop_index(op.f("ix_webhook_attempts_delivery_id"), table_name="webhook_attempts")
    op.create_index("uq_webhook_attempts_delivery_id_number", "webhook_attempts",
                    ["delivery_id", "number"], unique=True)
    op.add_column("audit_entries", sa.Column("count", sa.Integer(), nullable=False,
                                             server_default="1"))
    op.add_column("audit_entries", sa.Column("last_at", STAMP, nullable=True))
    op.create_index("ix_audit_entries_at", "audit_entries", ["at"])
    op.create_index("ix_proxy_requests_created_at", "proxy_requests", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_proxy_requests_created_at", table_name="proxy_requests")
    op.drop_index("ix_audit_entries_at", table_name="audit_entries")
    with op.batch_alter_table("audit_entries") as table:
        table.drop_column("last_at")
        table.drop_column("count")
    op.drop_index("uq_webhook_attempts_delivery_id_number", table_name="webhook_attempts")
    op.create_index(op.f("ix_webhook_attempts_delivery_id"), "webhook_attempts", ["delivery_id"])
    op.drop_index("ix_webhook_deliveries_claimed_until", table_name="webhook_deliveries")
    with op.batch_alter_table("webhook_deliveries") as table:
        table.drop_column("waiting")
        table.drop_column("claim_token")
