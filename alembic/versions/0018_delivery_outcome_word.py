"""a delivery that reached its receiver says succeeded, as its attempts and webhook do

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04

One word for one fact: deliveries said ``delivered`` where their attempts, the webhook's
``lastDeliveryStatus`` and sync runs say ``succeeded``.
"""

import sqlalchemy as sa

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_DELIVERIES = sa.table("webhook_deliveries", sa.column("status", sa.String))


def _rename(old: str, new: str) -> None:
    op.execute(_DELIVERIES.update().where(_DELIVERIES.c.status == old).values(status=new))


def upgrade() -> None:
    _rename("delivered", "succeeded")


def downgrade() -> None:
    _rename("succeeded", "delivered")
