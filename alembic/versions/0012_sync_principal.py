"""whom a sync acts as: when they took it over, what they saw, and a paused schedule

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

Existing syncs get no digest: their settings may have been changed by someone other than
the user recorded in ``run_as``, so each runs again only after a user with write access
changes or confirms it (docs/security.md, "Whom a sync acts as").
"""

import sqlalchemy as sa

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sync_states", sa.Column("run_as_since", sa.DateTime(timezone=True),
                                           nullable=True))
    op.add_column("sync_states", sa.Column("settings_digest", sa.String(64), nullable=True))
    op.add_column("sync_states", sa.Column("paused_code", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("sync_states", "paused_code")
    op.drop_column("sync_states", "settings_digest")
    op.drop_column("sync_states", "run_as_since")
