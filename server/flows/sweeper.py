"""Failing trials whose worker went silent, even in studies nobody asks from any more.

Asks already expire stale trials of their own study; this sweep covers the
rest, so the dashboard and ``best`` never show zombies as running.
"""

from __future__ import annotations

import functools
import logging
import threading
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tunehub.schema import TrialState
from tunehub.server.flows import sweep_hint
from tunehub.server.flows.ask import requeue_expired
from tunehub.server.flows.studies import require_study
from tunehub.server.store import studies as study_store
from tunehub.server.store.tables import studies, trials
from tunehub.server.store.transactions import run_read, run_write

log = logging.getLogger("tunehub.server")


def sweep_expired(engine: Engine) -> float | None:
    """Expire stale running trials in every study; returns the shortest heartbeat grace
    among studies with running trials."""
    oldest = run_read(
        engine,
        lambda conn: conn.execute(
            sa.select(studies.c.id, studies.c.spec, sa.func.min(trials.c.heartbeat_at))
            .join(trials, trials.c.study_id == studies.c.id)
            .where(trials.c.state == TrialState.RUNNING.value)
            .group_by(studies.c.id, studies.c.spec)
        ).all(),
    )
    graces: list[float] = []
    now = time.time()
    for study_id, spec_text, last_beat in oldest:
        grace = study_store.parse_spec(spec_text).heartbeat_grace_seconds
        if grace is None:
            continue
        graces.append(grace)
        if last_beat is None or last_beat >= now - grace:
            continue
        run_write(engine, functools.partial(_expire, study_id=study_id))
    return min(graces, default=None)


def _expire(conn: sa.Connection, *, study_id: int) -> None:
    study = require_study(conn, study_id, lock=True)
    spec = study_store.parse_spec(study.spec)
    queued = requeue_expired(conn, study, spec, first_number=study.trial_count, now=time.time())
    if queued:
        study_store.advance_trial_count(conn, study_id, by=queued, now=time.time())


class Sweeper:
    """Runs ``sweep_expired`` every ``interval`` seconds in a daemon thread, or more
    often while a study with a shorter heartbeat grace runs: a dead worker's trial is
    then failed within a quarter of its grace past it."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tunehub-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        sweep_hint.wake.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        wait = self._interval
        while True:
            sweep_hint.current_wait = wait
            sweep_hint.wake.wait(wait)
            sweep_hint.wake.clear()
            if self._stop.is_set():
                return
            try:
                running = sweep_expired(self._engine)
            except Exception:
                log.exception("heartbeat sweep failed")
                running = None
            graces = [g for g in (running, sweep_hint.take_expected()) if g is not None]
            wait = min([self._interval, *map(sweep_hint.wait_for, graces)])
