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


def test_upgrading_a_0001_database_keeps_its_trials_and_studies_still_match(
    tmp_path: Path,
) -> None:
    import json

    import sqlalchemy as sa

    import tunehub
    from tunehub.schema import StudyCreate
    from tunehub.server.flows.studies import _same_or_conflict, normalized_spec
    from tunehub.server.store.studies import canonical_spec

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    spec = normalized_spec(
        StudyCreate(name="old", space={"x": tunehub.Float(0, 1)}, objectives=[{"name": "loss"}])
    )
    # As 0001's server stored it: no keys added since, random's options empty.
    stored = json.loads(canonical_spec(spec.model_copy(update={"seed": 7})))
    del stored["resources"]
    stored["policy"]["options"] = {}
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO studies (id, name, spec, policy_name, user_attrs, trial_count, "
                "created_at, updated_at) VALUES (1, 'old', :spec, 'random', '{}', 1, 0, 0)"
            ),
            {"spec": json.dumps(stored)},
        )
        conn.execute(
            sa.text(
                "INSERT INTO trials (study_id, number, state, params, retries, expired, "
                "created_at) VALUES (1, 0, 'running', '{\"x\": 0.5}', 0, 0, 0)"
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        study = conn.execute(sa.text("SELECT * FROM studies")).one()
        assert conn.execute(sa.text("SELECT stop_requested FROM trials")).scalar_one() == 0
    assert _same_or_conflict(study, spec) is study  # re-creating it still finds it
