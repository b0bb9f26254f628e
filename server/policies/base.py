"""The policy interface: pure functions of a read-only study snapshot.

A policy never touches the database, HTTP or Ray. The server builds a
``StudyView``, calls ``suggest`` under the study's lock, and stores what comes
back. Everything a policy decides must follow from the view and the study
seed, so a restarted server (or another server process) decides the same.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from tunehub.schema import Decision, StudySpec, TrialState
from tunehub.server.space.encoding import SpaceEncoder
from tunehub.space import ParamValue


@dataclass(frozen=True)
class Suggestion:
    """What a policy proposes: a new configuration, or the continuation of ``parent_id``."""

    params: Mapping[str, ParamValue]
    budget: float | None = None
    instance: str | None = None
    cutoff: float | None = None
    """Seconds the run may take, when below the study's cutoff (adaptive capping)."""
    parent_id: int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialRecord:
    """A trial as policies see it."""

    id: int
    number: int
    state: TrialState
    params: Mapping[str, ParamValue]
    budget: float | None
    instance: str | None
    parent_id: int | None
    values: Mapping[str, float] | None
    metrics: Mapping[str, Any] | None
    cost: float | None
    meta: Mapping[str, Any] | None
    cutoff: float | None = None
    timed_out: bool = False


@dataclass(frozen=True)
class ReportRecord:
    trial_id: int
    step: int
    values: Mapping[str, float]


TrialLoader = Callable[[Collection[TrialState] | None], tuple[TrialRecord, ...]]
ReportLoader = Callable[[int], tuple[ReportRecord, ...]]
MilestoneLoader = Callable[[int], tuple[ReportRecord, ...]]


class StudyView:
    """An immutable, lazy snapshot of one study.

    ``trials`` and ``reports`` query the store only when a policy calls them, and
    each answer is memoized, so cheap policies stay flat as a study grows.
    """

    def __init__(
        self,
        *,
        study_id: int,
        spec: StudySpec,
        next_number: int,
        load_trials: TrialLoader,
        load_reports: ReportLoader,
        load_milestone: MilestoneLoader | None = None,
    ) -> None:
        self._study_id = study_id
        self._spec = spec
        self._next_number = next_number
        self._load_trials = load_trials
        self._load_reports = load_reports
        self._trials: dict[frozenset[TrialState] | None, tuple[TrialRecord, ...]] = {}
        self._reports: dict[int, tuple[ReportRecord, ...]] = {}
        self._load_milestone = load_milestone
        self._milestones: dict[int, tuple[ReportRecord, ...]] = {}
        self._encoder: SpaceEncoder | None = None

    @property
    def study_id(self) -> int:
        return self._study_id

    @property
    def spec(self) -> StudySpec:
        return self._spec

    @property
    def seed(self) -> int:
        """The study seed; the server always stores one, drawn at creation when not given."""
        return self._spec.seed or 0

    @property
    def next_number(self) -> int:
        """The number the first suggestion of this call will get."""
        return self._next_number

    @property
    def encoder(self) -> SpaceEncoder:
        if self._encoder is None:
            self._encoder = SpaceEncoder(self._spec.space)
        return self._encoder

    def trials(self, states: Collection[TrialState] | None = None) -> tuple[TrialRecord, ...]:
        """Trials in the given states (all when ``None``), ordered by number."""
        key = None if states is None else frozenset(states)
        if key not in self._trials:
            self._trials[key] = self._load_trials(key)
        return self._trials[key]

    def reports(self, trial_id: int) -> tuple[ReportRecord, ...]:
        """Intermediate reports of one trial, ordered by step."""
        if trial_id not in self._reports:
            self._reports[trial_id] = self._load_reports(trial_id)
        return self._reports[trial_id]

    def milestone(self, step: int) -> tuple[ReportRecord, ...]:
        """For every trial that reported at ``step`` or later, its first such report."""
        if step not in self._milestones:
            if self._load_milestone is not None:
                self._milestones[step] = self._load_milestone(step)
            else:  # one query per trial: fine for snapshots, the store answers in one
                firsts = (
                    next((r for r in self.reports(t.id) if r.step >= step), None)
                    for t in self.trials()
                )
                self._milestones[step] = tuple(r for r in firsts if r is not None)
        return self._milestones[step]


class PolicySpecError(ValueError):
    """A bad policy name or option; ``field`` is its dotted path in the study body."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Policy(abc.ABC):
    """Base of every optimization policy.

    Subclasses set ``name`` and, when they take options, ``Options``: a pydantic
    model validated at study creation (a bad option is a 422 naming it).
    """

    name: ClassVar[str]
    Options: ClassVar[type[BaseModel]] = NoOptions
    fast: ClassVar[bool] = False
    """True when ``suggest`` and ``decide`` take well under a millisecond, so the
    server may call them on its event loop. Model-based policies leave it False."""

    def __init__(self, options: BaseModel) -> None:
        self.options = options

    @classmethod
    def check_spec(cls, options: BaseModel, spec: StudySpec) -> None:
        """Refuse options that do not fit the rest of the study (raise ``PolicySpecError``)."""
        return None

    @abc.abstractmethod
    def suggest(self, view: StudyView, count: int) -> list[Suggestion]:
        """Propose ``count`` trials (best effort: fewer is allowed, never more).

        Called under the study's lock with the enqueued configurations already
        taken, so ``view.next_number`` is the number the first suggestion gets.
        """

    def decide(self, view: StudyView, trial: TrialRecord, report: ReportRecord) -> Decision:
        """Early-stopping rule, called for every intermediate report; default continue."""
        return Decision.CONTINUE

    settles: ClassVar[bool] = False
    """True when a result can end other running trials (``settle``)."""

    def settle(self, view: StudyView, trial: TrialRecord) -> Sequence[int]:
        """Ids of running trials that ``trial``'s result ends, such as the losers of its
        race. The server stores them as ``stopped`` and tells their workers to stop."""
        return ()
