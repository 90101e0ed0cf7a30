"""Aggregate snapshots (personal fields sealed per person, like the events).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy_utils.types.uuid import UUIDType

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "kasane_snapshots",
        sa.Column("originator_id", UUIDType(), primary_key=True),
        sa.Column("originator_version", _BIGINT, primary_key=True),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kasane_snapshots")
