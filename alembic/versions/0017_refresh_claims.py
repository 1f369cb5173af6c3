"""a token refresh is claimed on the connection, not held under a lock

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04

Who is refreshing a connection's token, and until when the claim holds: a refresh no
longer keeps a transaction open while the authorization server answers.
"""

import sqlalchemy as sa

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("connections", sa.Column("refresh_claim", sa.String(32), nullable=True))
    op.add_column("connections", sa.Column("refresh_claimed_until", sa.DateTime(timezone=True),
                                           nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as table:
        table.drop_column("refresh_claimed_until")
        table.drop_column("refresh_claim")
