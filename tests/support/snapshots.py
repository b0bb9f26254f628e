"""In-memory study snapshots for testing policies directly, without a server."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from typing import Any

from tunehub.schema import Decision, StudySpec, TrialState
from tunehub.server.policies.base import ReportRecord, StudyView, Suggestion, TrialRecord
from tunehub.server.policies.configurations import penalized_timeout
from tunehub.server.policies.registry import build_policy

Objective = Callable[[Mapping[str, Any]], Mapping[str, float]]


class Snapshot:
    """A study's trials held in a list; ``view()`` is what the server would hand a policy."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = StudySpec.model_validate(spec)
        self.trials: list[TrialRecord] = []
        self.reports: dict[int, list[ReportRecord]] = {}

    def view(self) -> StudyView:
        trials = tuple(self.trials)

        def load(states: Collection[TrialState] | None) -> tuple[TrialRecord, ...]:
            return tuple(t for t in trials if states is None or t.state in states)

        reports = {k: tuple(sorted(v, key=lambda r: r.step)) for k, v in self.reports.items()}

        def load_reports(trial_id: int) -> tuple[ReportRecord, ...]:
            return reports.get(trial_id, ())

        return StudyView(
            study_id=1,
            spec=self.spec,
            next_number=len(trials),
            load_trials=load,
            load_reports=load_reports,
        )

    def ask(self, count: int = 1) -> list[TrialRecord]:
        """Ask the study's policy; the new trials are running."""
        suggestions = build_policy(self.spec.policy).suggest(self.view(), count)
        started = [self._add(s) for s in suggestions]
        return started

    def _add(self, suggestion: Suggestion) -> TrialRecord:
        n = len(self.trials)
        record = TrialRecord(
            id=n + 1,
            number=n,
            state=TrialState.RUNNING,
            params=dict(suggestion.params),
            budget=suggestion.budget,
            instance=suggestion.instance,
            cutoff=suggestion.cutoff,
            parent_id=suggestion.parent_id,
            values=None,
            metrics=None,
            cost=None,
            meta=dict(suggestion.meta),
        )
        self.trials.append(record)
        return record

    def tell(
        self,
        trial: TrialRecord,
        values: Mapping[str, float],
        *,
        cost: float | None = None,
        **metrics: float,
    ) -> None:
        self.trials[trial.number] = replace(
            trial,
            state=TrialState.COMPLETED,
            values=dict(values),
            metrics=metrics or None,
            cost=cost,
        )
        self._settle(self.trials[trial.number])

    def _settle(self, trial: TrialRecord) -> None:
        """Stop the running trials the result ends, as the server's tell flow does."""
        policy = build_policy(self.spec.policy)
        if policy.settles:
            for trial_id in policy.settle(self.view(), trial):
                loser = self.trials[trial_id - 1]
                assert loser.state == TrialState.RUNNING
                self.trials[loser.number] = replace(loser, state=TrialState.STOPPED)

    def timeout(self, trial: TrialRecord) -> None:
        """Tell that ``trial`` hit its cutoff, scored as the server scores it (PAR)."""
        penalty = penalized_timeout(self.spec, trial.cutoff)
        assert penalty is not None, "this study does not score timeouts"
        name = self.spec.objectives[0].name
        self.trials[trial.number] = replace(
            trial, state=TrialState.COMPLETED, values={name: penalty}, timed_out=True
        )

    def end(self, trial: TrialRecord, state: TrialState) -> None:
        """Finish ``trial`` without values (failed, pruned or stopped)."""
        self.trials[trial.number] = replace(trial, state=state)

    def report(self, trial: TrialRecord, step: int, values: Mapping[str, float]) -> Decision:
        """Store a report and answer the policy's decision, as the server's report flow does."""
        record = ReportRecord(trial_id=trial.id, step=step, values=dict(values))
        self.reports.setdefault(trial.id, []).append(record)
        current = self.trials[trial.number]
        return build_policy(self.spec.policy).decide(self.view(), current, record)

    def add(self, suggestion: Suggestion) -> TrialRecord:
        """Store a trial as the server stores an enqueued one or a queued retry."""
        return self._add(suggestion)

    def run(self, objective: Objective, n: int) -> None:
        """Ask and tell ``n`` trials one by one; ``objective`` returns values and metrics."""
        names = [o.name for o in self.spec.objectives]
        for _ in range(n):
            (trial,) = self.ask()
            out = objective(trial.params)
            values = {k: float(out[k]) for k in names}
            metrics = {k: float(v) for k, v in out.items() if k not in names}
            self.tell(trial, values, **metrics)
