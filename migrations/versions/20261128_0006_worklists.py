"""Worklist items: due dates per case (monitoring, follow-up, contact, plans) for worklists.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worklist_items",
        sa.Column("aggregate_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("municipality_id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("role", sa.String(64), nullable=True),
        sa.Column("label", sa.Text(), nullable=False),
    )
    op.create_index(
        "worklist_items_municipality_due_idx", "worklist_items", ["municipality_id", "due_on"]
    )


def downgrade() -> None:
    op.drop_index("worklist_items_municipality_due_idx", table_name="worklist_items")
    op.drop_table("worklist_items")
