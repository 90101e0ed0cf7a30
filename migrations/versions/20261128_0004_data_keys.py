"""Per-person data keys for personal data encrypted at rest.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("person_id", sa.String(32), primary_key=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("erased_at", sa.String(40), nullable=True),
        sa.Column("erased_by", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("data_keys")
