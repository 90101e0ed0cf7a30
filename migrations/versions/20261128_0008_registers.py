"""Registers: participation hosts and community issues (R-PAR-3, R-RES-1).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_list",
        sa.Column("host_id", sa.String(36), primary_key=True),
        sa.Column("municipality_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("registered_on", sa.String(10), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
    )
    op.create_index("host_list_municipality_status_idx", "host_list", ["municipality_id", "status"])
    op.create_table(
        "community_issue_list",
        sa.Column("issue_id", sa.String(36), primary_key=True),
        sa.Column("municipality_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_raised_on", sa.String(10), nullable=False),
        sa.Column("last_raised_on", sa.String(10), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
    )
    op.create_index(
        "community_issue_list_municipality_status_idx",
        "community_issue_list",
        ["municipality_id", "status"],
    )


def downgrade() -> None:
    op.drop_index("community_issue_list_municipality_status_idx", "community_issue_list")
    op.drop_table("community_issue_list")
    op.drop_index("host_list_municipality_status_idx", "host_list")
    op.drop_table("host_list")
