"""the request log of the proxy

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proxy_requests",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("integration_id", sa.String(36), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(2048), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(64), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("bytes_sent", sa.Integer(), nullable=False),
        sa.Column("bytes_received", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.ForeignKeyConstraint(["integration_id"], ["integrations.id"], ondelete="CASCADE",
                                name=op.f("fk_proxy_requests_integration_id_integrations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proxy_requests")),
    )
    op.create_index("ix_proxy_requests_integration_id_created_at", "proxy_requests",
                    ["integration_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_proxy_requests_integration_id_created_at", table_name="proxy_requests")
    op.drop_table("proxy_requests")
