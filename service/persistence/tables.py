"""Read-model tables (maintained from the events, rebuildable from zero) and projection tracking."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

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

personal_data = Table(
    "personal_data",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("person_id", String(32), primary_key=True),
    Column("document", Text, nullable=False),
)

access_log = Table(
    "access_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("municipality_id", String(64), nullable=False),
    Column("agency_id", String(64), nullable=False),
    Column("role", String(64), nullable=False),
    Column("case_id", String(36), nullable=False),
    Column("person_id", String(32), nullable=False),
    Column("fields", Text, nullable=False),
    Column("basis", String(80), nullable=False),
    Index("access_log_municipality_case_idx", "municipality_id", "case_id"),
)

# One data key per person, wrapped by the master key; erasure destroys it (crypto.py).
data_keys = Table(
    "data_keys",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("person_id", String(32), primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("erased_at", String(40), nullable=True),
    Column("erased_by", String(64), nullable=True),
    Column("reason", Text, nullable=True),
)

# One row per stored event: its tenant (for the feed) and its hash chained per stream.
event_index = Table(
    "event_index",
    metadata,
    Column("notification_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("originator_id", String(36), nullable=False),
    Column("originator_version", Integer, nullable=False),
    Column("municipality_id", String(64), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("previous_hash", String(64), nullable=False),
    Index("event_index_stream_idx", "originator_id", "originator_version", unique=True),
    Index("event_index_tenant_idx", "municipality_id", "notification_id"),
)

# Idempotency-Key records per tenant and client: a retry answers the first response.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("municipality_id", String(64), primary_key=True),
    Column("agency_id", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("response_body", Text, nullable=True),
    Column("response_headers", Text, nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
    # The request running under the key, until its lease expires (service/api/idempotency.py).
    Column("owner", String(36), nullable=True),
    Column("lease_expires_at", String(40), nullable=True),
    # Written with the command's events: what the answer is rendered from.
    Column("outcome", Text, nullable=True),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("municipality_id", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("event_types", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("active", Integer, nullable=False),
)

# Transactional outbox: written with the events, delivered at least once by the dispatcher.
webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription_id", String(36), nullable=False),
    Column("notification_id", Integer, nullable=False),
    Column("municipality_id", String(64), nullable=False),
    Column("case_id", String(36), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", String(40), nullable=False),
    Column("delivered_at", String(40), nullable=True),
    Index("webhook_outbox_due_idx", "status", "next_attempt_at"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("outbox_id", Integer, nullable=False),
    Column("attempted_at", String(40), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("outcome", String(32), nullable=False),
)

# What is due per case (monitoring dates, follow-ups, contact, plans; R-SUP-1, R-SUP-2). Only the
# due date is stored; whether an item is overdue is computed at query time from the clock.
worklist_items = Table(
    "worklist_items",
    metadata,
    Column("aggregate_id", String(36), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("municipality_id", String(64), nullable=False),
    Column("case_id", String(36), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("agency_id", String(64), nullable=True),
    Column("role", String(64), nullable=True),
    Column("label", Text, nullable=False),
    Index("worklist_items_municipality_due_idx", "municipality_id", "due_on"),
)

# The municipality's register of hosts of participation support (R-PAR-3).
host_list = Table(
    "host_list",
    metadata,
    Column("host_id", String(36), primary_key=True),
    Column("municipality_id", String(64), nullable=False),
    Column("name", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("registered_on", String(10), nullable=False),
    Column("document", Text, nullable=False),
    Index("host_list_municipality_status_idx", "municipality_id", "status"),
)

# Community issues raised by resource shortages at meetings (R-RES-1). The document keeps the
# raising cases; who may see their ids is decided per reader at query time.
community_issue_list = Table(
    "community_issue_list",
    metadata,
    Column("issue_id", String(36), primary_key=True),
    Column("municipality_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("first_raised_on", String(10), nullable=False),
    Column("last_raised_on", String(10), nullable=False),
    Column("document", Text, nullable=False),
    Index("community_issue_list_municipality_status_idx", "municipality_id", "status"),
)

projection_tracking = Table(
    "projection_tracking",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
)

READ_MODEL_TABLES: tuple[Table, ...] = (
    case_list,
    case_detail,
    meeting_list,
    case_meetings,
    personal_data,
    worklist_items,
    host_list,
    community_issue_list,
)

# Credentials of service accounts, not a read model: never wiped by a rebuild. Only the SHA-256
# of each key is kept (service/security/api_keys.py says why that suffices).
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("key_hash", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("municipality_id", String(64), nullable=False),
    Column("agency_id", String(64), nullable=False),
    Column("role", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40), nullable=True),
    Index("api_keys_key_hash_idx", "key_hash", unique=True),
)

# Outreach and participation support per case (R-OUT, R-PAR): one row per engagement. Notes in
# the detail document stay sealed with the person's data key; a reader without a basis sees them
# redacted (service/views_engagements.py).
engagement_list = Table(
    "engagement_list",
    metadata,
    Column("engagement_id", String(36), primary_key=True),
    Column("case_id", String(36), nullable=False),
    Column("municipality_id", String(64), nullable=False),
    Column("service", String(16), nullable=False),
    Column("state", String(32), nullable=False),
    Column("basis", String(32), nullable=False),
    Column("pre_consent", Integer, nullable=False),
    Column("started_on", String(10), nullable=False),
    Column("agency_id", String(64), nullable=True),
    Column("host_id", String(36), nullable=True),
    Column("current_plan_version", Integer, nullable=True),
    Column("next_contact_due", String(10), nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", String(40), nullable=False),
    Index("engagement_list_municipality_service_idx", "municipality_id", "service", "state"),
    Index("engagement_list_case_idx", "case_id"),
)

engagement_detail = Table(
    "engagement_detail",
    metadata,
    Column("engagement_id", String(36), primary_key=True),
    Column("case_id", String(36), nullable=False),
    Column("municipality_id", String(64), nullable=False),
    Column("document", Text, nullable=False),
)

READ_MODEL_TABLES = (*READ_MODEL_TABLES, engagement_list, engagement_detail)
