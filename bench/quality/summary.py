"""Per problem and optimizer: traces of every successful run and their spread over seeds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench.quality.harness import OK, Results, Run
from bench.quality.metrics import (
    FRACTIONS,
    Scoring,
    Spread,
    log10_gap,
    scoring,
    spread_at,
    trace,
)
from bench.quality.problem import Problem


@dataclass
class Entry:
    """One optimizer on one problem."""

    optimizer: str
    runs: list[Run]
    traces: list[list[float]] = field(default_factory=list)
    """Per successful run, the per-trial score (regret or hypervolume)."""
    spreads: list[Spread] = field(default_factory=list)
    """At each of ``FRACTIONS`` of the budget; empty without a successful run."""

    @property
    def ok_runs(self) -> list[Run]:
        return [r for r in self.runs if r.status == OK]

    @property
    def note(self) -> str:
        """Why some runs have no score: the first non-ok status and message."""
        bad = [r for r in self.runs if r.status != OK]
        if not bad:
            return ""
        first = bad[0]
        reason = first.message.splitlines()[0] if first.message else ""
        count = f"{len(bad)} {first.status}" if first.status == "error" else first.status
        return f"{count}: {reason}" if reason else count


@dataclass
class ProblemSummary:
    problem: Problem
    budget: int
    scoring: Scoring
    entries: list[Entry]

    def best(self) -> Entry | None:
        """The entry with the best median score at the full budget."""
        scored = [e for e in self.entries if e.spreads]
        if not scored:
            return None
        sign = -1.0 if self.scoring.higher_is_better else 1.0
        return min(scored, key=lambda e: sign * e.spreads[-1].median)

    def final_log10_gap(self, entry: Entry) -> float | None:
        """log10 of the median final hypervolume gap (several objectives only)."""
        if not self.scoring.higher_is_better or not entry.spreads:
            return None
        value = log10_gap(entry.spreads[-1].median, self.scoring)
        return None if math.isinf(value) else value


def summarize(results: Results) -> list[ProblemSummary]:
    out = []
    for problem in results.problems:
        entries = [Entry(name, results.runs_of(problem.name, name)) for name in results.optimizers]
        ok_trials = [r.trials for e in entries for r in e.ok_runs]
        score = scoring(problem, ok_trials)
        budget = problem.scaled_budget(results.budget_scale)
        for entry in entries:
            entry.traces = [trace(problem, r.trials, score) for r in entry.ok_runs]
            if entry.traces:
                entry.spreads = [spread_at(entry.traces, budget, f) for f in FRACTIONS]
        out.append(ProblemSummary(problem, budget, score, entries))
    return out
