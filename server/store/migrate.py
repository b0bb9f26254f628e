"""Schema upgrades through Alembic, and the check the server runs before it serves."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

import tunehub.migrations

MIGRATIONS_DIR = Path(tunehub.migrations.__file__).parent


class SchemaOutOfDate(RuntimeError):
    """The database is not at the revision this code needs."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def ensure_current(engine: Engine, *, auto_upgrade: bool) -> None:
    """Upgrade (when allowed) or refuse a database whose schema is not at head.

    Raises ``SchemaOutOfDate`` with the command to run.
    """
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return
    if auto_upgrade:
        upgrade(engine)
        return
    where = engine.url.render_as_string(hide_password=True)
    raise SchemaOutOfDate(
        f"the database {where} is at schema revision {current or 'none (empty)'}, "
        f"this server needs {head}: run `tunehub db upgrade` with "
        "TUNEHUB_DATABASE_URL set to this database, then start the server again"
    )
