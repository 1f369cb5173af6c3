"""integrations, their shares and tags

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                     server_default=sa.text("CURRENT_TIMESTAMP"))


def upgrade() -> None:
    op.create_table(
        "integrations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("slug", sa.String(140), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("auth_type", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("embedded", sa.Boolean(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("auth_uri", sa.String(2048), nullable=True),
        sa.Column("token_uri", sa.String(2048), nullable=True),
        sa.Column("revocation_uri", sa.String(2048), nullable=True),
        sa.Column("user_info_uri", sa.String(2048), nullable=True),
        sa.Column("api_base_uri", sa.String(2048), nullable=True),
        sa.Column("client_id", sa.String(512), nullable=True),
        sa.Column("client_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("basic_token_auth", sa.Boolean(), nullable=False),
        sa.Column("api_key_encrypted", sa.Text(), nullable=True),
        sa.Column("api_key_location", sa.String(16), nullable=False),
        sa.Column("api_key_name", sa.String(128), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("credentials_encrypted", sa.Text(), nullable=True),
        sa.Column("image_url", sa.String(2048), nullable=True),
        sa.Column("owner_id", sa.String(80), nullable=False),
        sa.Column("supports_upload", sa.Boolean(), nullable=False),
        _created_at(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE",
                                name=op.f("fk_integrations_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrations")),
        sa.UniqueConstraint("tenant_id", "slug", name=op.f("uq_integrations_tenant_id_slug")),
    )
    op.create_index("ix_integrations_tenant_id_lower_name", "integrations",
                    ["tenant_id", sa.text("lower(name)"), "id"])
    op.create_index(op.f("ix_integrations_type"), "integrations", ["type"])
    op.create_index(op.f("ix_integrations_owner_id"), "integrations", ["owner_id"])
    op.create_table(
        "integration_shares",
        sa.Column("integration_id", sa.String(36), nullable=False),
        sa.Column("principal_id", sa.String(80), nullable=False),
        sa.Column("access_level", sa.Integer(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(["integration_id"], ["integrations.id"], ondelete="CASCADE",
                                name=op.f("fk_integration_shares_integration_id_integrations")),
        sa.PrimaryKeyConstraint("integration_id", "principal_id", name=op.f("pk_integration_shares")),
    )
    op.create_index(op.f("ix_integration_shares_principal_id"), "integration_shares", ["principal_id"])
    op.create_table(
        "tags",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("color", sa.String(16), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE",
                                name=op.f("fk_tags_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_tags_tenant_id_name")),
    )
    op.create_table(
        "integration_tags",
        sa.Column("integration_id", sa.String(36), nullable=False),
        sa.Column("tag_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(["integration_id"], ["integrations.id"], ondelete="CASCADE",
                                name=op.f("fk_integration_tags_integration_id_integrations")),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], ondelete="CASCADE",
                                name=op.f("fk_integration_tags_tag_id_tags")),
        sa.PrimaryKeyConstraint("integration_id", "tag_id", name=op.f("pk_integration_tags")),
    )
    op.create_index(op.f("ix_integration_tags_tag_id"), "integration_tags", ["tag_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_integration_tags_tag_id"), table_name="integration_tags")
    op.drop_table("integration_tags")
    op.drop_table("tags")
    op.drop_index(op.f("ix_integration_shares_principal_id"), table_name="integration_shares")
    op.drop_table("integration_shares")
    op.drop_index(op.f("ix_integrations_owner_id"), table_name="integrations")
    op.drop_index(op.f("ix_integrations_type"), table_name="integrations")
    op.drop_index("ix_integrations_tenant_id_lower_name", table_name="integrations")
    op.drop_table("integrations")
