"""API tokens: the token each was made with (revoked with it), and scopes

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

Tokens that exist already were made with full power and keep it: they get every scope
(read, proxy, admin) and no parent. The default is there only to fill them; new rows
always say their scopes. Going back drops both columns: tokens made with tokens then
stand alone.
"""

import sqlalchemy as sa

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

EVERY_SCOPE = "read proxy admin"


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("scopes", sa.String(64), nullable=False,
                                   server_default=EVERY_SCOPE))
        batch.create_foreign_key(op.f("fk_api_tokens_parent_id_api_tokens"), "api_tokens",
                                 ["parent_id"], ["id"], ondelete="CASCADE")
        batch.create_index(op.f("ix_api_tokens_parent_id"), ["parent_id"])
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("scopes", existing_type=sa.String(64), existing_nullable=False,
                           server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index(op.f("ix_api_tokens_parent_id"))
        batch.drop_constraint(op.f("fk_api_tokens_parent_id_api_tokens"), type_="foreignkey")
        batch.drop_column("scopes")
        batch.drop_column("parent_id")
