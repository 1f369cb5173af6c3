"""indexes for integration lists: shares by principal, integrations by id and by name

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

import sqlalchemy as sa

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Replaces the single-column index: same leading column, and the ids come with it.
    op.create_index("ix_integration_shares_principal_id_integration_id", "integration_shares",
                    ["principal_id", "integration_id"])
    op.drop_index("ix_integration_shares_principal_id", table_name="integration_shares")
    op.create_index("ix_integrations_id_tenant_id_embedded", "integrations",
                    ["id", "tenant_id", "embedded"])
    # The list order, now also holding what decides whether a row is listed.
    op.drop_index("ix_integrations_tenant_id_lower_name", table_name="integrations")
    op.create_index("ix_integrations_tenant_id_lower_name", "integrations",
                    ["tenant_id", sa.text("lower(name)"), "id", "embedded", "owner_id"])


def downgrade() -> None:
    op.drop_index("ix_integrations_tenant_id_lower_name", table_name="integrations")
    op.create_index("ix_integrations_tenant_id_lower_name", "integrations",
                    ["tenant_id", sa.text("lower(name)"), "id"])
    op.drop_index("ix_integrations_id_tenant_id_embedded", table_name="integrations")
    op.create_index("ix_integration_shares_principal_id", "integration_shares", ["principal_id"])
    op.drop_index("ix_integration_shares_principal_id_integration_id",
                  table_name="integration_shares")
