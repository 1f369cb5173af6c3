"""uploaded integration icons; who created each tag

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integration_icons",
        sa.Column("integration_id", sa.String(36), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.ForeignKeyConstraint(["integration_id"], ["integrations.id"], ondelete="CASCADE",
                                name=op.f("fk_integration_icons_integration_id_integrations")),
        sa.PrimaryKeyConstraint("integration_id", name=op.f("pk_integration_icons")),
    )
    # Plain ALTER TABLE (no batch copy on SQLite: that would lose the expression index).
    op.add_column("tags", sa.Column("created_by", sa.String(64), nullable=True))
    op.add_column("integrations", sa.Column("has_icon", sa.Boolean(), nullable=False,
                                            server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("integrations", "has_icon")
    op.drop_column("tags", "created_by")
    op.drop_table("integration_icons")
