"""The whole schema as SQLAlchemy metadata: the event store's table and the read models."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData

from service.persistence.tables import metadata as read_model_metadata

EVENTS_TABLE = "kasane_events"
SNAPSHOTS_TABLE = "kasane_snapshots"


def event_store_metadata() -> MetaData:
    """Return the metadata of eventsourcing-sqlalchemy's tables for the `kasane` application."""
    from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
    from eventsourcing_sqlalchemy.models import (  # type: ignore[attr-defined]
        Base,
        SnapshotRecord,
        StoredEventRecord,
    )

    SQLAlchemyDatastore.define_record_class(
        cls_name="KasaneStoredEventRecord",
        table_name=EVENTS_TABLE,
        schema_name=None,
        base_cls=StoredEventRecord,
    )
    SQLAlchemyDatastore.define_record_class(
        cls_name="KasaneSnapshot",  # the name the library's recorder gives it
        table_name=SNAPSHOTS_TABLE,
        schema_name=None,
        base_cls=SnapshotRecord,
    )
    return Base.metadata


def target_metadata() -> list[MetaData]:
    """Return every metadata Alembic compares against."""
    return [event_store_metadata(), read_model_metadata]


def compare_type(
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    """Alembic type check: the library's UUID column reflects as BINARY(16)/NUMERIC on SQLite."""
    from sqlalchemy_utils.types.uuid import UUIDType

    if isinstance(metadata_type, UUIDType):
        return inspected_type.__class__.__name__.upper() not in {
            "BINARY",
            "NUMERIC",
            "UUID",
            "CHAR",
        }
    return None  # the default comparison
