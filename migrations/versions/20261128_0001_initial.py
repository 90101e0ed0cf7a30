"""Event store and the first read models.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy_utils.types.uuid import UUIDType

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "kasane_events",
        sa.Column("id", _BIGINT, primary_key=True, autoincrement=True),
        sa.Column("originator_id", UUIDType(), nullable=False),
        sa.Column("originator_version", _BIGINT, nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
    )
    op.create_index(
        "kasane_events_aggregate_idx",
        "kasane_events",
        ["originator_id", "originator_version"],
        unique=True,
    )
    op.create_table(
        "case_list",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("municipality_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("referrer_kind", sa.String(64), nullable=True),
        sa.Column("referrer_agency_id", sa.String(64), nullable=True),
        sa.Column("lead_agency_id", sa.String(64), nullable=True),
        sa.Column("current_plan_version", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("referred_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_index(
        "case_list_municipality_state_idx", "case_list", ["municipality_id", "state"]
    )
    op.create_table(
        "case_detail",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("municipality_id", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
    )
    op.create_table(
        "meeting_list",
        sa.Column("meeting_id", sa.String(36), primary_key=True),
        sa.Column("municipality_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("held_on", sa.String(10), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
    )
    op.create_index(
        "meeting_list_municipality_held_idx", "meeting_list", ["municipality_id", "held_on"]
    )
    op.create_table(
        "case_meetings",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("meeting_id", sa.String(36), primary_key=True),
        sa.Column("municipality_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("held_on", sa.String(10), nullable=False),
        sa.Column("timing", sa.String(16), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
    )
    op.create_table(
        "projection_tracking",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("projection_tracking")
    op.drop_table("case_meetings")
    op.drop_index("meeting_list_municipality_held_idx", table_name="meeting_list")
    op.drop_table("meeting_list")
    op.drop_table("case_detail")
    op.drop_index("case_list_municipality_state_idx", table_name="case_list")
    op.drop_table("case_list")
    op.drop_index("kasane_events_aggregate_idx", table_name="kasane_events")
    op.drop_table("kasane_events")
