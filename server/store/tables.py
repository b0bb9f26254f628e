"""Table definitions used by queries; the schema itself is created only by migrations.

A test checks that these tables and ``migrations/versions`` agree. Times are
stored as UNIX seconds (float): cheap to compare for heartbeat expiry on every
database, and converted to UTC datetimes at the API edge.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

studies = sa.Table(
    "studies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    # The canonical spec as sorted JSON text, so "same spec" is a string comparison.
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("policy_name", sa.String(100), nullable=False),
    sa.Column("user_attrs", sa.JSON, nullable=False),
    # Next trial number; only advanced under the study lock.
    sa.Column("trial_count", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    # Never reuse an id on SQLite: a deleted study's id must not name a new one.
    sqlite_autoincrement=True,
)

trials = sa.Table(
    "trials",
    metadata,
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
    # Seconds this trial may run, when a policy caps it below the study's cutoff.
    sa.Column("cutoff", sa.Float, nullable=True),
    sa.Column("timed_out", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column(
        "parent_id", sa.Integer, sa.ForeignKey("trials.id", ondelete="SET NULL"), nullable=True
    ),
    sa.Column("worker", sa.String(200), nullable=True),
    sa.Column("ask_request_id", sa.String(128), nullable=True),
    sa.Column("enqueue_request_id", sa.String(128), nullable=True),
    # First objective's value, kept apart so "best" is an indexed ORDER BY.
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("values", sa.JSON, nullable=True),
    sa.Column("metrics", sa.JSON, nullable=True),
    sa.Column("cost", sa.Float, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("policy_meta", sa.JSON, nullable=True),
    sa.Column("retries", sa.Integer, nullable=False, default=0),
    # True when the server failed the trial for a missed heartbeat; a late result is accepted.
    sa.Column("expired", sa.Boolean, nullable=False, default=False),
    # A policy answered "stop" to one of its reports; heartbeats pass it on to the worker.
    sa.Column("stop_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("heartbeat_at", sa.Float, nullable=True),
    sa.UniqueConstraint("study_id", "number", name="uq_trials_study_number"),
    sa.Index("ix_trials_study_state_number", "study_id", "state", "number"),
    sa.Index("ix_trials_study_state_heartbeat", "study_id", "state", "heartbeat_at"),
    sa.Index("ix_trials_study_state_value", "study_id", "state", "value"),
    sa.Index("ix_trials_study_ask_request", "study_id", "ask_request_id"),
    sa.Index("ix_trials_study_enqueue_request", "study_id", "enqueue_request_id"),
    sa.Index("ix_trials_parent", "parent_id"),
    sqlite_autoincrement=True,
)

reports = sa.Table(
    "reports",
    metadata,
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

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    # "read", "write" or "admin"; each includes the ones before it.
    sa.Column("scope", sa.String(16), nullable=False),
    # SHA-256 of the key, hex: the key itself is never stored.
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
    sa.UniqueConstraint("digest", name="uq_api_keys_digest"),
    sa.UniqueConstraint("name", name="uq_api_keys_name"),
    sqlite_autoincrement=True,
)
