"""Engagement read models: outreach and participation support per case (R-OUT, R-PAR).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "engagement_list",
        sa.Column("engagement_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("municipality_id", sa.String(64), nullable=False),
        sa.Column("service", sa.String(16), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("basis", sa.String(32), nullable=False),
        sa.Column("pre_consent", sa.Integer(), nullable=False),
        sa.Column("started_on", sa.String(10), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("host_id", sa.String(36), nullable=True),
        sa.Column("current_plan_version", sa.Integer(), nullable=True),
        sa.Column("next_contact_due", sa.String(10), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_index(
        "engagement_list_municipality_service_idx",
        "engagement_list",
        ["municipality_id", "service", "state"],
    )
    op.create_index("engagement_list_case_idx", "engagement_list", ["case_id"])
    op.create_table(
        "engagement_detail",
        sa.Column("engagement_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("municipality_id", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("engagement_detail")
    op.drop_index("engagement_list_case_idx", table_name="engagement_list")
    op.drop_index("engagement_list_municipality_service_idx", table_name="engagement_list")
    op.drop_table("engagement_list")
