"""Models and migrations agree, and the migration chain runs both ways, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import LargeBinary, inspect

from medcrypt import migrations
from medcrypt.crypto.errors import StorageError
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine
from medcrypt.storage.encrypted import REGISTRY, SealedBytes
from medcrypt.storage.models import load_all

#: Tables created by storage's own revision 0001 (other teams add theirs in 0002+).
STORAGE_TABLES = {
    "platform_identities", "clinic_admins", "pairings", "epochs", "stored_tokens",
    "pending_parts", "outbox", "escrow_deposits", "inbound_keys", "media_blobs",
}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    assert migrate.current(database_url) is None
    migrate.upgrade(database_url)
    assert migrate.current(database_url) == migrate.head()
    assert _tables(database_url) >= STORAGE_TABLES
    migrate.downgrade(database_url, "base")
    assert migrate.current(database_url) is None
    assert _tables(database_url) == set()
    migrate.upgrade(database_url)
    assert migrate.current(database_url) == migrate.head()
    assert _tables(database_url) >= STORAGE_TABLES


def test_storage_tables_match_migrations(database_url: str) -> None:
    migrate.upgrade(database_url)
    mine = [d for d in migrate.diff(database_url) if _table_of(d) in STORAGE_TABLES]
    assert mine == []


def test_all_models_match_migrations(database_url: str) -> None:
    """The CI guard: every model module (all teams') has its migration."""
    migrate.upgrade(database_url)
    migrate.check(database_url)


def test_check_reports_a_drifted_schema(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_outbox_platform_message_id")
    finally:
        engine.dispose()
    described = [migrate._describe(d) for d in migrate.diff(database_url)]
    assert "add_index outbox.ix_outbox_platform_message_id" in described
    with pytest.raises(StorageError, match="models and database schema differ"):
        migrate.check(database_url)


def test_load_all_finds_every_model_module() -> None:
    metadata = load_all()
    assert set(metadata.tables) >= STORAGE_TABLES


def test_head_is_unique_and_scripts_are_found_via_package() -> None:
    assert migrate.head()
    assert migrate.alembic_config().get_main_option("script_location") == str(
        Path(migrations.__file__).resolve().parent
    )


def _table_of(change: object) -> str | None:
    if isinstance(change, list):
        change = change[0]
    assert isinstance(change, tuple)
    for part in change[1:]:
        if isinstance(part, str):
            return part
        name = getattr(getattr(part, "table", None), "name", None) or getattr(part, "name", None)
        if isinstance(name, str):
            return name
    return None


def test_every_sealed_column_is_registered_for_rotation() -> None:
    """A sealed column missing from the registry would escape `keys rewrap`/`status`."""
    metadata = load_all()
    registered = set(REGISTRY)
    for table in metadata.sorted_tables:
        for column in table.columns:
            sealed_type = isinstance(column.type, SealedBytes)
            sealed_name = "sealed" in column.name and isinstance(column.type, LargeBinary)
            if sealed_type or sealed_name:
                assert (table.name, column.name) in registered, f"{table.name}.{column.name}"


def test_stored_job_references_follow_the_namespace_move(database_url: str) -> None:
    """A job stored before the move to ``medcrypt.…`` is rewritten, not parked."""
    from medcrypt.bot.scheduler.runner import JOB_FUNCTIONS

    migrate.upgrade(database_url, "0008_relay_on_storage")
    engine = sa.create_engine(database_url)
    row = {"id": "rotation", "func_ref": "bot.jobs.scheduler:scheduled", "trigger": "{}",
           "args": "[]", "options": "{}", "next_run_time": None}
    stranger = {**row, "id": "other", "func_ref": "os:system"}
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO scheduler_jobs (id, func_ref, trigger, args, options,"
                " next_run_time) VALUES (:id, :func_ref, :trigger, :args, :options,"
                " :next_run_time)"), [row, stranger])
        migrate.upgrade(database_url)
        with engine.connect() as conn:
            refs = dict(conn.execute(sa.text("SELECT id, func_ref FROM scheduler_jobs")).all())
    finally:
        engine.dispose()
    assert refs == {"rotation": "medcrypt.bot.scheduler.runner:scheduled", "other": "os:system"}
    assert refs["rotation"] in JOB_FUNCTIONS
