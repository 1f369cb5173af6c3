"""principal ids of deleted users and teams, never given to anyone else

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04

Users and teams deleted before this revision left grants naming them behind (an
integration's owner, shares, connections, tag creators, a schedule's acting user). Every
such id that names no live user or team of its tenant is retired here, so creating a
namesake cannot pick those grants up (docs/security.md, "Deleted principals").
"""

import sqlalchemy as sa

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# (tenant, principal id) pairs that grant something, from every column holding one.
_REFERENCES = """
    SELECT tenant_id, owner_id AS principal_id FROM integrations
    UNION SELECT i.tenant_id, s.principal_id FROM integration_shares s
        JOIN integrations i ON i.id = s.integration_id
    UNION SELECT i.tenant_id, c.holder FROM connections c
        JOIN integrations i ON i.id = c.integration_id WHERE c.holder <> '*'
    UNION SELECT i.tenant_id, st.run_as FROM sync_states st
        JOIN integrations i ON i.id = st.integration_id WHERE st.run_as IS NOT NULL
    UNION SELECT tenant_id, created_by FROM tags WHERE created_by IS NOT NULL
"""


def upgrade() -> None:
    op.create_table(
        "retired_principals",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("principal_id", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE",
                                name=op.f("fk_retired_principals_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("tenant_id", "principal_id", name=op.f("pk_retired_principals")),
    )
    op.execute(f"""
        INSERT INTO retired_principals (tenant_id, principal_id, kind, retired_at)
        SELECT ref.tenant_id, ref.principal_id,
               CASE WHEN ref.principal_id LIKE 'team:%' THEN 'team' ELSE 'user' END,
               CURRENT_TIMESTAMP
        FROM ({_REFERENCES}) ref
        WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = ref.tenant_id
                                                  AND u.username = ref.principal_id)
          AND NOT EXISTS (SELECT 1 FROM teams t WHERE t.tenant_id = ref.tenant_id
                                                  AND 'team:' || t.slug = ref.principal_id)
    """)


def downgrade() -> None:
    op.drop_table("retired_principals")
