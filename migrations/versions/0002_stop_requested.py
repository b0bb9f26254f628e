"""Trials remember that a policy asked them to stop.

Workers learn a stop decision from their heartbeats as well as from reports,
so a trial whose own code does not report (a shell command, a script that
ignores the answer) is still stopped by its worker.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.add_column(
            sa.Column("stop_requested", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("stop_requested")
