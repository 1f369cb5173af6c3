"""counters that know when their window ends; expired browser sessions found by index

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

The counters are recreated empty rather than altered: they live a window at most (and
SQLite adds no NOT NULL column to a table without rebuilding it), so upgrading starts every
rate limit and sign-in throttle window afresh, once.
"""

import sqlalchemy as sa

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _counters(*extra: sa.Column) -> None:
    op.create_table(
        "rate_limit_counters",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("window_start", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        *extra,
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_rate_limit_counters")),
    )


def upgrade() -> None:
    op.drop_table("rate_limit_counters")
    _counters(sa.Column("expires_at", sa.Integer(), nullable=False))
    op.create_index(op.f("ix_rate_limit_counters_expires_at"), "rate_limit_counters",
                    ["expires_at"])
    op.create_index(op.f("ix_browser_sessions_expires_at"), "browser_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_browser_sessions_expires_at"), table_name="browser_sessions")
    op.drop_index(op.f("ix_rate_limit_counters_expires_at"), table_name="rate_limit_counters")
    op.drop_table("rate_limit_counters")
    _counters()
