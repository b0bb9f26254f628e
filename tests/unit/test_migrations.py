"""Migrations are the only schema source: they must build exactly the tables the code queries."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tunehub.server.store.engine import make_engine
from tunehub.server.store.migrate import current_revision, head_revision, upgrade
from tunehub.server.store.tables import metadata


def test_migrated_schema_matches_tables(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    upgrade(engine)  # idempotent
    assert current_revision(engine) == head_revision()
