"""Trials carry their own cutoff and whether they ran into it.

Algorithm-configuration policies cap a challenger's run at the incumbent's time
(adaptive capping), so the cutoff is per trial; a timed-out run is scored as a
penalized runtime (PAR10) and kept apart from one that finished.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("cutoff", sa.Float, nullable=True))
        batch.add_column(
            sa.Column("timed_out", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("timed_out")
        batch.drop_column("cutoff")
