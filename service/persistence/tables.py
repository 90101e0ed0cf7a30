"""Read-model tables (maintained from the events, rebuildable from zero) and projection tracking."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

case_list = Table(
    "case_list",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("municipality_id", String(64), nullable=False),
    Column("state", String(32), nullable=False),
    Column("referrer_kind", String(64), nullable=True),
    Column("referrer_agency_id", String(64), nullable=True),
    Column("lead_agency_id", String(64), nullable=True),
    Column("current_plan_version", Integer, nullable=True),
    Column("version", Integer, nullable=False),
    Column("referred_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Index("case_list_municipality_state_idx", "municipality_id", "state"),
)

case_detail = Table(
    "case_detail",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("municipality_id", String(64), nullable=False),
    Column("document", Text, nullable=False),
)

meeting_list = Table(
    "meeting_list",
    metadata,
    Column("meeting_id", String(36), primary_key=True),
    Column("municipality_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("held_on", String(10), nullable=False),
    Column("document", Text, nullable=False),
    Index("meeting_list_municipality_held_idx", "municipality_id", "held_on"),
)

case_meetings = Table(
    "case_meetings",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("meeting_id", String(36), primary_key=True),
    Column("municipality_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("held_on", String(10), nullable=False),
    Column("timing", String(16), nullable=False),
    Column("plan_version", Integer, nullable=True),
    Column("outcome", String(16), nullable=False),
)

projection_tracking = Table(
    "projection_tracking",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
)

READ_MODEL_TABLES = (case_list, case_detail, meeting_list, case_meetings)
