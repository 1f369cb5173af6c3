"""the change generation the proxy's per-process caches are checked against

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04

One row, ``id`` 1, moved in the transaction of every committed change to the tables the
proxy's caches depend on (``integration_hub/db/generations.py``; docs/decisions.md,
"Performance"). SQLite reads it; PostgreSQL announces changes with ``pg_notify`` instead and
keeps the table, unused, so that the schema is the same on both databases. The row starts
at the clock in nanoseconds: a value a restarted count could never have given before.
"""

import time

import sqlalchemy as sa

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    generations = op.create_table(
        "cache_generations",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cache_generations")),
    )
    op.bulk_insert(generations, [{"id": 1, "value": time.time_ns()}])


def downgrade() -> None:
    op.drop_table("cache_generations")
