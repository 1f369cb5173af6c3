"""records of integrations, sync runs and sync states

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NOW = sa.text("CURRENT_TIMESTAMP")


def _integration_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["integration_id"], ["integrations.id"], ondelete="CASCADE",
                                   name=op.f(f"fk_{table}_integration_id_integrations"))


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("integration_id", sa.String(36), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(256), nullable=False),
        sa.Column("data", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        _integration_fk("records"),
        sa.PrimaryKeyConstraint("integration_id", "model", "record_id", name=op.f("pk_records")),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("integration_id", sa.String(36), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_as", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False)
          for name in ("pages", "fetched", "created", "updated", "deleted")),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        _integration_fk("sync_runs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index("ix_sync_runs_integration_id_created_at", "sync_runs",
                    ["integration_id", "created_at"])
    op.create_table(
        "sync_states",
        sa.Column("integration_id", sa.String(36), nullable=False),
        sa.Column("active_run_id", sa.String(36), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", sa.String(36), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("schedule_key", sa.String(200), nullable=True),
        sa.Column("run_as", sa.String(64), nullable=True),
        _integration_fk("sync_states"),
        sa.PrimaryKeyConstraint("integration_id", name=op.f("pk_sync_states")),
    )
    op.create_index(op.f("ix_sync_states_next_run_at"), "sync_states", ["next_run_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sync_states_next_run_at"), table_name="sync_states")
    op.drop_table("sync_states")
    op.drop_index("ix_sync_runs_integration_id_created_at", table_name="sync_runs")
    op.drop_table("sync_runs")
    op.drop_table("records")
