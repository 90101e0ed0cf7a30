"""Alembic owns every table: the migrations build exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect

from service.persistence.migrate import downgrade, upgrade
from service.persistence.schema import EVENTS_TABLE, compare_type, target_metadata


def _declared() -> MetaData:
    merged = MetaData()
    for metadata in target_metadata():
        for table in metadata.tables.values():
            table.to_metadata(merged)
    return merged


def test_migrated_schema_has_no_difference_from_the_models(database_url: str) -> None:
    """Autogenerate finds nothing to add, drop or alter after `kasane migrate`."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": compare_type}), _declared()
        )
    assert diff == []


def test_event_store_table_is_created_by_the_migration(database_url: str) -> None:
    """The event store's table comes from the migration, not from the library (CREATE_TABLE=no)."""
    tables = set(inspect(create_engine(database_url)).get_table_names())
    assert {EVENTS_TABLE, "case_list", "case_detail", "meeting_list", "case_meetings"} <= tables


def test_downgrade_and_upgrade_round_trip(database_url: str) -> None:
    """Every migration can be undone and redone."""
    downgrade(database_url, "base")
    assert set(inspect(create_engine(database_url)).get_table_names()) <= {"alembic_version"}
    upgrade(database_url)
    assert EVENTS_TABLE in inspect(create_engine(database_url)).get_table_names()
