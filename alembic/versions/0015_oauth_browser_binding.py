"""OAuth flows bound to the browser that started them

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04

A flow's callback completes only in the browser holding the cookie whose digest is
``browser_hash`` (docs/security.md). Flows in progress during the upgrade have none, so
their callbacks are refused: whoever was connecting at that moment starts again.
"""

import sqlalchemy as sa

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("oauth_states", sa.Column("browser_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("oauth_states", "browser_hash")
