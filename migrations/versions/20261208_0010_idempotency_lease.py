"""Idempotency keys: a lease with its owner, and the outcome written with the command.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Claims of the old scheme that never got an answer are stuck "in progress": drop them.
    op.execute("DELETE FROM idempotency_keys WHERE status_code IS NULL")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("owner", sa.String(36), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.String(40), nullable=True))
        batch.add_column(sa.Column("outcome", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("outcome")
        batch.drop_column("lease_expires_at")
        batch.drop_column("owner")
