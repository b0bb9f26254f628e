"""The wire schema: request and response bodies of ``/api/v1``.

The server and the SDK both import these models, so the client validates what
it sends exactly as the server will. Other languages depend on these shapes:
add optional keys, never rename or remove one.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tunehub.space import ParamSpec, ParamValue, check_conditions


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("contains a NUL character (\\u0000): remove it")
    return text


Label = Annotated[str, StringConstraints(max_length=200), AfterValidator(_no_nul)]
"""A short identifier from a client (worker names, request ids): no NUL, which SQL text refuses."""


def _replace_nul(text: str) -> str:
    return text.replace("\x00", "\ufffd")


Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_nul)]
"""The name of an objective, a constraint's metric, a fidelity: no NUL."""

LongText = Annotated[str, StringConstraints(max_length=100_000), AfterValidator(_replace_nul)]
"""Free text such as a traceback: kept, with NUL characters replaced."""

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}")
"""Study names; matched whole (``fullmatch``: ``$`` would let a trailing newline through)."""


class TrialState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    PRUNED = "pruned"
    STOPPED = "stopped"

    @property
    def finished(self) -> bool:
        return self not in (TrialState.PENDING, TrialState.RUNNING)


class Direction(StrEnum):
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


class Decision(StrEnum):
    CONTINUE = "continue"
    STOP = "stop"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Objective(_Body):
    name: Name
    direction: Direction = Direction.MINIMIZE


class PolicySpec(_Body):
    name: str = Field(default="random", min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)


class ConstraintOp(StrEnum):
    LE = "<="
    GE = ">="


class Constraint(_Body):
    """An outcome constraint: metric ``name``, told with every result, must satisfy ``op bound``."""

    name: Name
    op: ConstraintOp = ConstraintOp.LE
    bound: float = Field(allow_inf_nan=False)

    def slack(self, value: float) -> float:
        """How far ``value`` is on the infeasible side of the bound (<= 0 when feasible)."""
        return value - self.bound if self.op == ConstraintOp.LE else self.bound - value


MIN_BUDGET = 1e-9
MAX_BUDGET = float(2**31 - 1)
"""A budget is at most the largest report step, so a trial can report having reached it."""
MAX_BUDGET_RATIO = 1e9
"""``max / min`` of a fidelity: at most 52 rungs even at the smallest eta."""


def check_budget_ratio(low: float, high: float) -> None:
    if high / low > MAX_BUDGET_RATIO:
        raise ValueError(
            f"fidelity max / min is {high / low:.3g}: at most {MAX_BUDGET_RATIO:g} "
            "(raise min or lower max)"
        )


class Fidelity(_Body):
    """The budget a trial can be trained for (epochs, steps, a data fraction), for schedulers.

    Multi-fidelity policies assign each trial a ``budget`` between ``min`` and ``max``;
    their rungs are ``min * eta**k`` below ``max``, and ``max`` on top. When ``min`` and
    ``max`` are whole numbers every rung is a whole number too.
    """

    name: Name
    min: float = Field(ge=MIN_BUDGET, allow_inf_nan=False)
    max: float = Field(gt=0, le=MAX_BUDGET, allow_inf_nan=False)
    eta: float = Field(default=3.0, ge=1.5, le=100, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check_range(self) -> Fidelity:
        if self.max <= self.min:
            raise ValueError(
                f"fidelity max ({self.max}) must be greater than min ({self.min}), "
                'e.g. {"name": "epochs", "min": 1, "max": 81, "eta": 3}'
            )
        check_budget_ratio(self.min, self.max)
        return self


class Resources(_Body):
    """What one trial of the study takes on a worker node (Ray's resource names)."""

    num_cpus: float = Field(default=1.0, ge=0, le=1024)
    num_gpus: float = Field(default=0.0, ge=0, le=64)


class CostUnit(StrEnum):
    """What a trial's cost counts, when the worker measures it."""

    WALL_SECONDS = "wall_seconds"
    GPU_SECONDS = "gpu_seconds"
    """Wall seconds times the GPUs the trial holds (its ``resources.num_gpus``)."""
    TOLD = "told"
    """Only what the trial tells (``cost=`` on tell); workers measure nothing."""


MAX_COST = 1e15
"""A trial's cost (seconds, GPU-seconds, ...) and a study's cost ceiling."""
MAX_SECONDS = 1e9
"""Cutoffs and heartbeat graces: about 31 years."""


class Cost(_Body):
    """How a study counts the cost of a trial, for cost-aware search and cost plots.

    A cost told with a result always wins; otherwise ``tunehub worker`` measures
    ``unit``. Policies never suggest a configuration predicted to cost more than ``max``.
    """

    unit: CostUnit = CostUnit.WALL_SECONDS
    max: float | None = Field(
        default=None,
        gt=0,
        le=MAX_COST,
        allow_inf_nan=False,
        description="Cost ceiling: no suggestion is predicted to cost more.",
    )


class Instance(_Body):
    """One problem instance of an algorithm-configuration study: an id, and features."""

    id: Label = Field(min_length=1)
    features: dict[str, float] = Field(default_factory=dict, max_length=1000)

    @field_validator("features")
    @classmethod
    def _check_features(cls, features: dict[str, float]) -> dict[str, float]:
        for name, value in features.items():
            if not math.isfinite(value):
                raise ValueError(f"feature {name!r} is {value}: give a finite number")
        return features


def _as_instance(item: Any) -> Any:
    return {"id": item} if isinstance(item, str) else item


InstanceItem = Annotated[Instance, BeforeValidator(_as_instance)]
"""An instance id (``"poisson-64"``) or ``{"id": ..., "features": {...}}``."""


class Instances(_Body):
    """The instances a configuration is judged on (``train``) and tested on (``test``)."""

    train: list[InstanceItem] = Field(min_length=1, max_length=100_000)
    test: list[InstanceItem] = Field(default_factory=list, max_length=100_000)
    par: float | None = Field(
        default=10.0,
        ge=1,
        le=1e6,
        description="Penalized average runtime: a run stopped at its cutoff counts par x "
        "cutoff on the first objective, when that is minimized (PAR10); null keeps the value "
        "told with the timeout.",
    )

    @model_validator(mode="after")
    def _check_ids(self) -> Instances:
        seen: dict[str, str] = {}
        for part, items in (("train", self.train), ("test", self.test)):
            for i, item in enumerate(items):
                where = f"{part}[{i}]"
                if item.id in seen:
                    raise ValueError(
                        f"instance id {item.id!r} at {where} is also at {seen[item.id]}: "
                        "ids must be unique across train and test"
                    )
                seen[item.id] = where
        return self

    def by_id(self) -> dict[str, Instance]:
        return {item.id: item for item in (*self.train, *self.test)}


MAX_OBJECTIVES = 31
"""Hypervolumes are computed (or estimated) for fronts of up to 31 objectives."""


class StudySpec(_Body):
    """Everything that defines how a study searches; two creates agree when their specs do."""

    space: dict[str, ParamSpec]
    objectives: list[Objective] = Field(min_length=1, max_length=MAX_OBJECTIVES)
    policy: PolicySpec = Field(default_factory=PolicySpec)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    heartbeat_grace_seconds: float | None = Field(
        default=600.0,
        gt=0,
        le=MAX_SECONDS,
        description="A running trial with no heartbeat for this long becomes failed; "
        "null disables the check.",
    )
    max_retries: int = Field(
        default=0,
        ge=0,
        le=100,
        description="How many times a trial that lost its worker is asked again.",
    )
    max_failed_trials: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000_000,
        description="Hand out no more trials once this many have failed: the objective "
        "is likely broken. Raise it (PATCH) to go on; null never stops.",
    )
    resources: Resources | None = Field(
        default=None,
        description="CPUs and GPUs one trial takes on a `tunehub worker` (default 1 CPU).",
    )
    constraints: list[Constraint] = Field(
        default_factory=list,
        max_length=20,
        description="Outcome constraints, each a metric every completed trial tells; "
        "best trials and model-based policies count only trials that satisfy all of them.",
    )

    fidelity: Fidelity | None = Field(
        default=None,
        description="The budget (epochs, steps...) multi-fidelity policies assign to trials; "
        "other policies give every trial the max.",
    )
    cost: Cost | None = Field(
        default=None,
        description="What a trial's cost counts and its ceiling; without it, a cost told "
        "with a result is still stored, and workers measure wall seconds.",
    )
    instances: Instances | None = Field(
        default=None,
        description="Problem instances for algorithm configuration: each trial runs one "
        "configuration on one instance.",
    )
    cutoff: float | None = Field(
        default=None,
        gt=0,
        le=MAX_SECONDS,
        allow_inf_nan=False,
        description="Seconds a trial may run: a worker stops it there and tells a timeout. "
        "A policy may give a trial a lower cutoff of its own (adaptive capping).",
    )

    @field_validator("space")
    @classmethod
    def _check_space(cls, space: dict[str, Any]) -> dict[str, Any]:
        if not space:
            raise ValueError("space is empty: declare at least one parameter")
        for name in space:
            if not name or len(name) > 200:
                raise ValueError(f"parameter name {name!r} must have 1 to 200 characters")
            _no_nul(name)
        check_conditions(space)
        return space

    @field_validator("objectives")
    @classmethod
    def _check_objectives(cls, objectives: list[Objective]) -> list[Objective]:
        seen: set[str] = set()
        for objective in objectives:
            if objective.name in seen:
                raise ValueError(
                    f"objective {objective.name!r} is listed twice: names must be unique"
                )
            seen.add(objective.name)
        return objectives

    @model_validator(mode="after")
    def _check_constraints(self) -> StudySpec:
        names = [c.name for c in self.constraints]
        objectives = {o.name for o in self.objectives}
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"constraint {name!r} is listed twice: names must be unique")
            if name in objectives:
                raise ValueError(
                    f"constraint {name!r} is also an objective: constrain a separate metric"
                )
        return self

    @field_validator("fidelity")
    @classmethod
    def _check_fidelity(cls, fidelity: Fidelity | None, info: ValidationInfo) -> Fidelity | None:
        if fidelity is not None and fidelity.name in info.data.get("space", {}):
            raise ValueError(
                f"fidelity {fidelity.name!r} is also a parameter: the budget is set by the "
                "policy, so remove it from the space"
            )
        return fidelity

    @field_validator("heartbeat_grace_seconds")
    @classmethod
    def _check_grace(cls, grace: float | None) -> float | None:
        if grace is not None and not math.isfinite(grace):
            raise ValueError("heartbeat_grace_seconds must be a finite number of seconds or null")
        return grace


class StudyCreate(StudySpec):
    name: str = Field(json_schema_extra={"pattern": f"^{NAME_PATTERN.pattern}$"})
    user_attrs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError(
                f"study name {name!r} is not allowed: use 1 to 200 letters, digits or ._:/@+- "
                "and start with a letter or digit"
            )
        if ".." in name.split("/"):
            raise ValueError(
                f"study name {name!r} is not allowed: a '..' between slashes reads as a "
                "parent folder wherever the name becomes a path; rename that part"
            )
        return name

    def spec(self) -> StudySpec:
        return StudySpec.model_validate(self.model_dump(exclude={"name", "user_attrs"}))


class FidelityChange(_Body):
    max: float = Field(
        gt=0, le=MAX_BUDGET, allow_inf_nan=False, description="The new, higher max budget."
    )


class StudyPatch(_Body):
    """What can change on a running study: the fidelity's max (raised only: iterative
    deepening) and ``max_failed_trials`` (to go on after the objective is fixed)."""

    fidelity: FidelityChange | None = None
    max_failed_trials: int | None = Field(default=None, ge=1, le=1_000_000_000)

    @model_validator(mode="after")
    def _check_something(self) -> StudyPatch:
        if self.fidelity is None and self.max_failed_trials is None:
            raise ValueError("give fidelity.max or max_failed_trials: nothing to change")
        return self


class StudyOut(StudySpec):
    model_config = ConfigDict(extra="ignore")

    id: int
    name: str
    seed: int | None = None
    user_attrs: dict[str, Any] = Field(default_factory=dict)
    trial_counts: dict[TrialState, int] = Field(default_factory=dict)
    max_ask_count: int = Field(
        default=1000,
        description="The most trials one ask may request with this study's policy.",
    )
    created_at: datetime
    updated_at: datetime


class StudyList(BaseModel):
    studies: list[StudyOut]
    count: int


class AskRequest(_Body):
    count: int = Field(default=1, ge=1, le=1000)
    worker: Label | None = None
    request_id: Label | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Repeating a request id returns the trials the first request got.",
    )


class TrialOut(BaseModel):
    id: int
    study_id: int
    number: int
    state: TrialState
    params: dict[str, ParamValue]
    budget: float | None = None
    instance: str | None = None
    cutoff: float | None = None
    timed_out: bool = False
    parent_id: int | None = None
    worker: str | None = None
    values: dict[str, float] | None = None
    metrics: dict[str, Any] | None = None
    cost: float | None = None
    error: str | None = None
    policy_meta: dict[str, Any] | None = None
    retries: int = 0
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None


class TrialList(BaseModel):
    trials: list[TrialOut]
    count: int


class ReportRequest(_Body):
    step: int = Field(ge=0, le=2**31 - 1)
    values: dict[str, float] = Field(min_length=1, max_length=1000)


class ReportResponse(BaseModel):
    decision: Decision


class TellRequest(_Body):
    """Either ``values`` (a completed trial) or a ``state`` of failed, pruned or stopped.

    A value that is NaN, infinite or null makes the trial failed, with the reason.
    """

    values: dict[str, float | None] | None = None
    state: TrialState | None = None
    metrics: dict[str, Any] | None = None
    cost: float | None = None
    error: LongText | None = None
    retry: bool = False
    timed_out: bool = False
    """The run hit its cutoff. On a study whose first objective is minimized and whose
    instances set ``par``, that objective is stored as par x cutoff; otherwise the values
    told are kept, and a timeout without values is a failed trial."""
    """With ``state: failed``: the trial failed for a reason outside its configuration
    (its process or node died), so the server queues it again, as a pending trial whose
    parent is this one, while the study's ``max_retries`` allows."""

    @model_validator(mode="after")
    def _check_outcome(self) -> TellRequest:
        if self.state in (TrialState.PENDING, TrialState.RUNNING):
            raise ValueError(
                f"state {self.state.value!r} cannot be told: use completed, failed, pruned "
                "or stopped"
            )
        if (
            self.values is None
            and self.state in (None, TrialState.COMPLETED)
            and not self.timed_out
        ):
            raise ValueError(
                "values is missing: a completed trial needs its objective values, "
                'e.g. {"values": {"loss": 0.3}}, or tell {"state": "failed"}'
            )
        if self.cost is not None and not (0 <= self.cost <= MAX_COST):
            raise ValueError(f"cost is {self.cost}: give a finite number from 0 to {MAX_COST:g}")
        if self.timed_out and self.state not in (None, TrialState.COMPLETED):
            raise ValueError(
                f"timed_out applies to completed trials, not {self.state.value!r}: "
                'tell {"timed_out": true} with the values reached, if any'
            )
        if self.retry and self.state != TrialState.FAILED:
            raise ValueError(
                'retry applies to failed trials: tell {"state": "failed", "retry": true}'
            )
        return self


class EnqueueRequest(_Body):
    params: dict[str, ParamValue]
    request_id: Label | None = Field(default=None, min_length=1, max_length=128)
    instance: Label | None = Field(
        default=None, description="Run the configuration on this instance of the study."
    )


class HeartbeatResponse(BaseModel):
    state: TrialState
    decision: Decision = Decision.CONTINUE
    """``stop`` once the policy answered stop to one of the trial's reports, or once it
    stopped the trial itself (``state`` is then ``stopped``: tell nothing more)."""


class Problem(BaseModel):
    """An ``application/problem+json`` error body (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] = Field(default_factory=list)


class TrialBatch(BaseModel):
    """Trials answered by ask and best (the Pareto set when there are several objectives)."""

    trials: list[TrialOut]


class ReportOut(BaseModel):
    step: int
    values: dict[str, float]
    created_at: datetime


class InstanceResult(BaseModel):
    """One run of a configuration on one instance."""

    instance: str
    trial_id: int
    state: TrialState
    value: float | None = None
    """The first objective; a timeout's is its penalized value (PAR)."""
    timed_out: bool = False


class InstanceSummary(BaseModel):
    runs: list[InstanceResult]
    mean: float | None = None
    """Mean first objective over the runs with a value; a failed run counts as a timeout
    at the study's cutoff when runtimes are penalized, and is left out otherwise."""
    missing: list[str] = Field(default_factory=list)
    """Instances of this set the configuration has not run on (or is running on)."""


class IncumbentOut(BaseModel):
    """The configuration an algorithm-configuration study would deploy now."""

    params: dict[str, ParamValue]
    train: InstanceSummary
    test: InstanceSummary


class LearningCurve(BaseModel):
    """One trial's reports as columns: ``values[name][i]`` was reported at ``steps[i]``."""

    trial_id: int
    number: int
    state: TrialState
    budget: float | None = None
    steps: list[int]
    values: dict[str, list[float | None]]


class LearningCurveList(BaseModel):
    """Learning curves of the trials that reported, in trial-number order, one page of them."""

    curves: list[LearningCurve]
    count: int = Field(description="Trials with at least one report, over all pages.")


class TrialSample(BaseModel):
    """Trials to plot: all of them in a small study, a sample of a big one.

    The sample keeps every trial that set a new best, the 2-D Pareto front (two
    objectives, or cost and the one objective), the best by each objective and an
    even spread of the rest, so plots drawn from it match plots of every trial.
    """

    trials: list[TrialOut] = Field(description="In trial-number order.")
    count: int = Field(description="Trials in the study.")


class RungOut(BaseModel):
    """One rung of a bracket-based scheduler (ASHA has one bracket, numbered 0)."""

    bracket: int
    rung: int
    budget: float | None
    trials: int = Field(description="Trials placed on this rung, in any state.")
    completed: int
    best: float | None = Field(description="Best first-objective value reported on the rung.")


class RungList(BaseModel):
    rungs: list[RungOut] = Field(description="By bracket, then rung.")


class PowerLawOut(BaseModel):
    """``value = coefficient * cost ** exponent``; ``r2`` of the fit in log-log."""

    coefficient: float
    exponent: float
    r2: float
    points: int = Field(
        description="Front points fitted: all of them up to 400, else 400 spread along it."
    )


class ObjectiveLawOut(BaseModel):
    """``objective = asymptote + coefficient * cost ** -decay`` when minimized (``-`` when
    maximized): the gap to the asymptote shrinks as a power law."""

    asymptote: float
    coefficient: float
    decay: float
    r2: float
    points: int


class ScalingOut(BaseModel):
    """Power laws in cost fitted over the cost-objective Pareto front."""

    objective: str
    front: list[TrialOut] = Field(description="The (cost, objective) Pareto set, cheapest first.")
    parameters: dict[str, PowerLawOut] = Field(
        description="Numeric parameters as power laws in cost, fitted on the front."
    )
    objective_law: ObjectiveLawOut | None
    cost: float | None = Field(description="The cost asked about (the ``cost`` query).")
    recommended: dict[str, ParamValue] | None = Field(
        description="Settings at ``cost``: fitted laws clipped to the space, other "
        "parameters from the front member closest in cost."
    )
    predicted: float | None = Field(description="The objective law's value at ``cost``.")
    note: str | None = Field(default=None, description="Why a fit is missing, when one is.")


class ParetoOut(BaseModel):
    """The Pareto set of feasible completed trials and the hypervolume it dominates."""

    trials: list[TrialOut]
    hypervolume: float
    hypervolume_exact: bool = Field(
        default=True,
        description="False when the front is too large for its objectives to compute the "
        "hypervolume exactly (exponential in the objectives): then it is a seeded Monte "
        "Carlo estimate, within 1% or so.",
    )
    reference_point: dict[str, float] | None = Field(
        default=None,
        description="Per objective, the worst value the hypervolume counts (in its own units).",
    )
    reference_inferred: bool = Field(
        default=True,
        description="True when no ref_point option was given: the front's worst value of each "
        "objective, pushed out by 10% of the front's range.",
    )


class ImportanceOut(BaseModel):
    """How much of the objective's variation each parameter explains on its own."""

    objective: str
    method: str
    n_trials: int
    importances: dict[str, float]


class Scope(StrEnum):
    """What an API key may do; each scope includes the ones before it."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def allows(self, needed: Scope) -> bool:
        order = list(Scope)
        return order.index(self) >= order.index(needed)


KEY_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class KeyCreate(_Body):
    name: str = Field(
        description="A label for the key's holder, unique: letters, digits, ._-",
        json_schema_extra={"pattern": f"^{KEY_NAME_PATTERN.pattern}$"},
    )
    scope: Scope = Scope.READ

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not KEY_NAME_PATTERN.fullmatch(name):
            raise ValueError(
                f"key name {name!r} is not allowed: use 1 to 100 letters, digits or ._- "
                "and start with a letter or digit"
            )
        return name


class KeyOut(BaseModel):
    name: str
    scope: Scope
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    revoked_at: datetime | None = None


class KeyCreated(KeyOut):
    key: str = Field(description="The key itself: shown this once, stored only as a hash.")


class KeyList(BaseModel):
    keys: list[KeyOut]
