"""Personal data apart from the workflow facts, and the access log of its reads.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "personal_data",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("person_id", sa.String(32), primary_key=True),
        sa.Column("document", sa.Text(), nullable=False),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("municipality_id", sa.String(64), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("basis", sa.String(80), nullable=False),
    )
    op.create_index(
        "access_log_municipality_case_idx", "access_log", ["municipality_id", "case_id"]
    )


def downgrade() -> None:
    op.drop_index("access_log_municipality_case_idx", table_name="access_log")
    op.drop_table("access_log")
    op.drop_table("personal_data")
