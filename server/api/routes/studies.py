"""Study endpoints: create, read, list, patch (raise the max budget), delete; ask,
enqueue, trials, a plot sample, rungs, learning curves, best, pareto, importance, scaling."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response, status

from tunehub.schema import (
    AskRequest,
    EnqueueRequest,
    ImportanceOut,
    LearningCurve,
    LearningCurveList,
    ParetoOut,
    RungList,
    ScalingOut,
    StudyCreate,
    StudyList,
    StudyOut,
    StudyPatch,
    TrialBatch,
    TrialList,
    TrialOut,
    TrialSample,
    TrialState,
)
from tunehub.server.analysis.sample import thinned
from tunehub.server.api.bodies import json_body, request_body
from tunehub.server.api.convert import json_response, study_out, trial_out
from tunehub.server.api.deps import MAX_ID, EngineDep, StudyId
from tunehub.server.api.placement import run_db
from tunehub.server.errors import NotFound
from tunehub.server.flows import ask as ask_flow
from tunehub.server.flows import insights
from tunehub.server.flows.results import best_trials, pareto_front
from tunehub.server.flows.studies import create_study, patch_study, require_study
from tunehub.server.store import studies as study_store
from tunehub.server.store import trials as trial_store
from tunehub.server.store.transactions import run_read, run_write

router = APIRouter(prefix="/studies", tags=["studies"])

HEAVY_ASK_COUNT = 16
"""Asks for more trials than this run in a worker thread, never on the event loop."""

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size (1 to 1000).")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip.")]
Sort = Annotated[
    str,
    Query(
        pattern=f"^-?({'|'.join(trial_store.SORT_KEYS)})$",
        description="Order of the trials: one of "
        + ", ".join(trial_store.SORT_KEYS)
        + " (value is the first objective's); a leading '-' sorts descending. "
        "Trials without the field come last; ties go by number.",
    ),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": StudyOut, "description": "The study exists with this spec."}},
    openapi_extra=request_body(StudyCreate),
)
def create(
    body: Annotated[StudyCreate, Depends(json_body(StudyCreate))],
    engine: EngineDep,
    response: Response,
) -> StudyOut:
    """Create a study; the same name with the same spec answers 200 with the existing one."""
    row, created = create_study(engine, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    counts = run_read(engine, lambda conn: study_store.trial_counts(conn, [row.id]))
    return study_out(row, counts[row.id])


@router.get("", response_model=StudyList)
def list_(
    engine: EngineDep,
    name: Annotated[str | None, Query(max_length=200)] = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    """Studies in creation order; ``name`` selects one by exact name, ``search`` by substring."""

    def work(conn: sa.Connection) -> StudyList:
        rows, total = study_store.list_studies(
            conn,
            name=name,
            search=search,
            limit=limit,
            offset=offset,
        )
        counts = study_store.trial_counts(conn, [r.id for r in rows])
        return StudyList(studies=[study_out(r, counts[r.id]) for r in rows], count=total)

    return json_response(run_read(engine, work))  # serialized in this thread, not on the loop


@router.get("/{study_id}")
def get(study_id: StudyId, engine: EngineDep) -> StudyOut:
    def work(conn: sa.Connection) -> StudyOut:
        row = require_study(conn, study_id)
        counts = study_store.trial_counts(conn, [study_id])
        return study_out(row, counts[study_id])

    return run_read(engine, work)


@router.patch("/{study_id}", openapi_extra=request_body(StudyPatch))
def patch(
    study_id: StudyId,
    body: Annotated[StudyPatch, Depends(json_body(StudyPatch))],
    engine: EngineDep,
) -> StudyOut:
    """Raise the fidelity's max budget (iterative deepening) or max_failed_trials."""
    row = patch_study(engine, study_id, body)
    counts = run_read(engine, lambda conn: study_store.trial_counts(conn, [row.id]))
    return study_out(row, counts[row.id])


@router.delete("/{study_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(study_id: StudyId, engine: EngineDep) -> Response:
    """Delete a study with all its trials and reports."""
    if not run_write(engine, lambda conn: study_store.delete_study(conn, study_id)):
        raise NotFound(f"study {study_id} does not exist")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{study_id}/ask", response_model=TrialBatch, openapi_extra=request_body(AskRequest))
async def ask(
    study_id: StudyId,
    body: Annotated[AskRequest, Depends(json_body(AskRequest))],
    engine: EngineDep,
) -> Response:
    """Start ``count`` trials for ``worker``: enqueued ones first, then the policy's."""

    def work() -> Response:
        rows = ask_flow.ask(engine, study_id, body)
        return json_response(TrialBatch(trials=[trial_out(r) for r in rows]))

    # A big batch (up to 1,000 trials of up to 1,000 parameters) is never worth the
    # event loop, whatever the policy's speed.
    return await run_db(engine, work, study_id=study_id, heavy=body.count > HEAVY_ASK_COUNT)


@router.post(
    "/{study_id}/enqueue",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": TrialOut, "description": "Repeated request id."}},
    openapi_extra=request_body(EnqueueRequest),
)
def enqueue(
    study_id: StudyId,
    body: Annotated[EnqueueRequest, Depends(json_body(EnqueueRequest))],
    engine: EngineDep,
    response: Response,
) -> TrialOut:
    """Put a known configuration first in line; the next ask hands it out."""
    row, created = ask_flow.enqueue(engine, study_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return trial_out(row)


@router.get("/{study_id}/trials", response_model=TrialList)
def trials(
    study_id: StudyId,
    engine: EngineDep,
    state: Annotated[list[TrialState] | None, Query()] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    sort: Sort = "number",
) -> Response:
    """A page of trials, optionally only those in the given states, in ``sort`` order."""

    def work(conn: sa.Connection) -> TrialList:
        require_study(conn, study_id)
        rows, total = trial_store.list_trials(
            conn,
            study_id=study_id,
            states=state,
            limit=limit,
            offset=offset,
            sort=sort,
        )
        return TrialList(trials=[trial_out(r) for r in rows], count=total)

    return json_response(run_read(engine, work))  # serialized in this thread, not on the loop


@router.get("/{study_id}/trials/sample", response_model=TrialSample)
def trial_sample(
    study_id: StudyId,
    engine: EngineDep,
    limit: Annotated[
        int, Query(ge=10, le=20_000, description="Most trials returned (10 to 20,000).")
    ] = 2000,
) -> Response:
    """Trials to plot: every trial of a small study; of a big one, those that shape its plots.

    Kept first: each trial that set a new best, the Pareto front of the first two
    objectives (or of cost and the objective), the best by each objective; then an
    even spread of the rest.
    """

    def work(conn: sa.Connection) -> TrialSample:
        rows, total = insights.trial_sample(conn, study_id, limit)
        return TrialSample(trials=[trial_out(r) for r in rows], count=total)

    return json_response(run_read(engine, work))  # serialized in this thread, not on the loop


@router.get("/{study_id}/rungs")
def rungs(study_id: StudyId, engine: EngineDep) -> RungList:
    """Trials per bracket and rung of a Hyperband or ASHA study, with each rung's best value."""
    return run_read(engine, lambda conn: insights.rungs(conn, study_id))


@router.get("/{study_id}/reports", response_model=LearningCurveList)
def learning_curves(
    study_id: StudyId,
    engine: EngineDep,
    limit: Limit = 100,
    offset: Offset = 0,
    max_points: Annotated[
        int, Query(ge=2, le=100_000, description="Points kept per curve, evenly spaced.")
    ] = 1000,
) -> Response:
    """The intermediate reports of a page of trials, one curve per trial (reporting trials only)."""

    def work(conn: sa.Connection) -> LearningCurveList:
        require_study(conn, study_id)
        page, total = trial_store.learning_curves(
            conn, study_id=study_id, limit=limit, offset=offset
        )
        curves = [_curve(trial, thinned(reports, max_points)) for trial, reports in page]
        return LearningCurveList(curves=curves, count=total)

    return json_response(run_read(engine, work))  # serialized in this thread, not on the loop


def _curve(trial: Any, reports: list[Any]) -> LearningCurve:
    names = sorted({name for report in reports for name in report.values})
    return LearningCurve(
        trial_id=trial.id,
        number=trial.number,
        state=TrialState(trial.state),
        budget=trial.budget,
        steps=[report.step for report in reports],
        values={name: [report.values.get(name) for report in reports] for name in names},
    )


@router.get("/{study_id}/best")
def best(study_id: StudyId, engine: EngineDep) -> TrialBatch:
    """The best completed trial, or the Pareto set when there are several objectives."""
    rows = run_read(engine, lambda conn: best_trials(conn, study_id))
    return TrialBatch(trials=[trial_out(r) for r in rows])


@router.get("/{study_id}/pareto")
def pareto(study_id: StudyId, engine: EngineDep) -> ParetoOut:
    """The Pareto set of feasible completed trials, with the hypervolume it dominates."""
    front = run_read(engine, lambda conn: pareto_front(conn, study_id))
    return ParetoOut(
        trials=[trial_out(r) for r in front.trials],
        hypervolume=front.hypervolume,
        hypervolume_exact=front.hypervolume_exact,
        reference_point=front.reference_point,
        reference_inferred=front.reference_inferred,
    )


@router.get("/{study_id}/importance")
def importance(
    study_id: StudyId,
    engine: EngineDep,
    objective: Annotated[
        str | None, Query(max_length=200, description="Objective name; the first by default.")
    ] = None,
) -> ImportanceOut:
    """Each parameter's share of the objective's variance (fANOVA over a random forest)."""
    return run_read(engine, lambda conn: insights.importance(conn, study_id, objective))


@router.get("/{study_id}/scaling")
def scaling(
    study_id: StudyId,
    engine: EngineDep,
    objective: Annotated[
        str | None, Query(max_length=200, description="Objective name; the first by default.")
    ] = None,
    cost: Annotated[
        float | None,
        Query(gt=0, allow_inf_nan=False, description="Recommend settings for this cost."),
    ] = None,
) -> ScalingOut:
    """Numeric parameters and the objective as power laws in cost over the Pareto front."""

    def work(conn: sa.Connection) -> ScalingOut:
        out, front = insights.scaling(conn, study_id, objective, cost)
        return out.model_copy(update={"front": [trial_out(r) for r in front]})

    return run_read(engine, work)
