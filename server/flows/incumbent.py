"""The incumbent of an algorithm-configuration study, and its evaluation on test instances.

The incumbent follows one rule whatever the policy: the configuration run on the most
train instances, then the lowest mean cost, then the oldest (``incumbent_of``). Test
runs are enqueued trials of the incumbent on each test instance, with request ids
derived from the configuration and the instance, so asking twice queues nothing twice.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tunehub.schema import (
    EnqueueRequest,
    IncumbentOut,
    InstanceResult,
    InstanceSummary,
    StudySpec,
    TrialState,
)
from tunehub.server.errors import Invalid, NotFound
from tunehub.server.flows.ask import enqueue_many, make_view
from tunehub.server.flows.studies import require_study
from tunehub.server.policies.base import TrialRecord
from tunehub.server.policies.configurations import (
    config_key,
    configurations,
    incumbent_of,
    run_cost,
    sign,
)
from tunehub.server.store import studies as study_store
from tunehub.server.store.transactions import run_read


def _spec_with_instances(conn: sa.Connection, study_id: int) -> tuple[StudySpec, int]:
    study = require_study(conn, study_id)
    spec = study_store.parse_spec(study.spec)
    if spec.instances is None:
        raise Invalid(
            f"study {study_id} declares no instances: an incumbent is judged over instances "
            '(create the study with "instances": {"train": [...]})',
            field="instances",
        )
    return spec, int(study.trial_count)


def incumbent(conn: sa.Connection, study_id: int) -> IncumbentOut:
    spec, next_number = _spec_with_instances(conn, study_id)
    assert spec.instances is not None
    view = make_view(conn, study_id, spec, next_number)
    best = incumbent_of(configurations(view))
    if best is None:
        raise NotFound(f"study {study_id} has no finished run on a train instance yet")
    key = config_key(best.params)
    own = [t for t in view.trials() if config_key(t.params) == key]
    train = [i.id for i in spec.instances.train]
    test = [i.id for i in spec.instances.test]
    return IncumbentOut(
        params=dict(best.params),
        train=_summary(spec, own, train),
        test=_summary(spec, own, test),
    )


def _summary(spec: StudySpec, runs: Sequence[TrialRecord], instances: list[str]) -> InstanceSummary:
    wanted = set(instances)
    name = spec.objectives[0].name
    results = [
        InstanceResult(
            instance=str(t.instance),
            trial_id=t.id,
            state=t.state,
            value=(t.values or {}).get(name),
            timed_out=t.timed_out,
        )
        for t in runs
        if t.instance in wanted
    ]
    costs = [run_cost(spec, t) for t in runs if t.instance in wanted and t.state.finished]
    finite = [c for c in costs if c is not None and math.isfinite(c)]
    judged = {r.instance for r in results if r.state.finished and r.state != TrialState.STOPPED}
    return InstanceSummary(
        runs=results,
        mean=sign(spec) * sum(finite) / len(finite) if finite else None,
        missing=[i for i in instances if i not in judged],
    )


def evaluate_on_test(engine: Engine, study_id: int) -> IncumbentOut:
    """Queue the incumbent on every test instance it has not run on; returns it."""
    current = run_read(engine, lambda conn: incumbent(conn, study_id))
    key = config_key(current.params)
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    queued = {r.instance for r in current.test.runs}
    requests = [
        EnqueueRequest(
            params=current.params,
            instance=instance,
            request_id=f"test:{digest}:{hashlib.sha256(instance.encode()).hexdigest()[:24]}",
        )
        for instance in current.test.missing
        if instance not in queued
    ]
    if requests:
        enqueue_many(engine, study_id, requests)
    return run_read(engine, lambda conn: incumbent(conn, study_id))
