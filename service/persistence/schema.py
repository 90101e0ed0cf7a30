"""The whole schema as SQLAlchemy metadata: the event store's table and the read models."""

from __future__ import annotations

from sqlalchemy import MetaData

from service.persistence.tables import metadata as read_model_metadata

EVENTS_TABLE = "kasane_events"


def event_store_metadata() -> MetaData:
    """Return the metadata of eventsourcing-sqlalchemy's table for the `kasane` application."""
    from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
    from eventsourcing_sqlalchemy.models import Base, StoredEventRecord

    SQLAlchemyDatastore.define_record_class(
        cls_name="KasaneStoredEventRecord",
        table_name=EVENTS_TABLE,
        schema_name=None,
        base_cls=StoredEventRecord,
    )
    return Base.metadata


def target_metadata() -> list[MetaData]:
    """Return every metadata Alembic compares against."""
    return [event_store_metadata(), read_model_metadata]
