"""Studies, trials and reports.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("policy_name", sa.String(100), nullable=False),
        sa.Column("user_attrs", sa.JSON, nullable=False),
        sa.Column("trial_count", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "study_id",
            sa.Integer,
            sa.ForeignKey("studies.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("budget", sa.Float, nullable=True),
        sa.Column("instance", sa.String(200), nullable=True),
        sa.Column(
            "parent_id",
            sa.Integer,
            sa.ForeignKey("trials.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("ask_request_id", sa.String(128), nullable=True),
        sa.Column("enqueue_request_id", sa.String(128), nullable=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("values", sa.JSON, nullable=True),
        sa.Column("metrics", sa.JSON, nullable=True),
        sa.Column("cost", sa.Float, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("policy_meta", sa.JSON, nullable=True),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.Column("expired", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("heartbeat_at", sa.Float, nullable=True),
        sa.UniqueConstraint("study_id", "number", name="uq_trials_study_number"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_trials_study_state_number", "trials", ["study_id", "state", "number"])
    op.create_index(
        "ix_trials_study_state_heartbeat", "trials", ["study_id", "state", "heartbeat_at"]
    )
    op.create_index("ix_trials_study_state_value", "trials", ["study_id", "state", "value"])
    op.create_index("ix_trials_study_ask_request", "trials", ["study_id", "ask_request_id"])
    op.create_index("ix_trials_study_enqueue_request", "trials", ["study_id", "enqueue_request_id"])
    op.create_index("ix_trials_parent", "trials", ["parent_id"])
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "trial_id",
            sa.Integer,
            sa.ForeignKey("trials.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("values", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("trial_id", "step", name="uq_reports_trial_step"),
    )


def downgrade() -> None:
    op.drop_table("reports")
    op.drop_table("trials")
    op.drop_table("studies")
