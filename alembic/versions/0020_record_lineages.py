"""lineage between records: which record feeds which

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05

Imported with a records file as ``lineages_file`` and read at ``GET
/api/integrations/{id}/lineage`` (docs/decisions.md, "Records, imports and syncs"). The
primary key serves reading a record's downstream records, the index its upstream ones.
"""

import sqlalchemy as sa

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_lineages",
        sa.Column("integration_id", sa.String(36), nullable=False),
        sa.Column("upstream_model", sa.String(64), nullable=False),
        sa.Column("upstream_id", sa.String(256), nullable=False),
        sa.Column("downstream_model", sa.String(64), nullable=False),
        sa.Column("downstream_id", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.ForeignKeyConstraint(["integration_id"], ["integrations.id"], ondelete="CASCADE",
                                name=op.f("fk_record_lineages_integration_id_integrations")),
        sa.PrimaryKeyConstraint("integration_id", "upstream_model", "upstream_id",
                                "downstream_model", "downstream_id",
                                name=op.f("pk_record_lineages")),
    )
    op.create_index("ix_record_lineages_downstream", "record_lineages",
                    ["integration_id", "downstream_model", "downstream_id"])


def downgrade() -> None:
    op.drop_index("ix_record_lineages_downstream", table_name="record_lineages")
    op.drop_table("record_lineages")
