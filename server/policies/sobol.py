"""Scrambled Sobol' points: space-filling designs that cover the cube evenly."""

from __future__ import annotations

import warnings

from pydantic import BaseModel, ConfigDict
from scipy.stats import qmc

from tunehub.schema import Decision
from tunehub.server.policies.base import Policy, ReportRecord, StudyView, Suggestion, TrialRecord
from tunehub.server.policies.stopping import StoppingOptions, median_rule


class SobolOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scramble: bool = True
    stopping: StoppingOptions = StoppingOptions()


class SobolPolicy(Policy):
    """Trial ``n`` gets point ``n`` of the study's Sobol' sequence (seeded scrambling).

    The index is the trial number, so the sequence is stateless and resumes
    exactly after a restart; enqueued trials skip the points they displace.
    """

    name = "sobol"
    fast = True
    Options = SobolOptions

    def suggest(self, view: StudyView, count: int) -> list[Suggestion]:
        assert isinstance(self.options, SobolOptions)
        return sobol_points(view, count, scramble=self.options.scramble)

    def decide(self, view: StudyView, trial: TrialRecord, report: ReportRecord) -> Decision:
        assert isinstance(self.options, SobolOptions)
        return median_rule(self.options.stopping, view, trial, report)


def sobol_points(view: StudyView, count: int, *, scramble: bool = True) -> list[Suggestion]:
    """Points ``next_number ..`` of the study's Sobol' sequence (seeded scrambling)."""
    engine = qmc.Sobol(view.encoder.dims, scramble=scramble, seed=view.seed)
    if view.next_number:
        engine.fast_forward(view.next_number)
    with warnings.catch_warnings():
        # Balance warnings concern whole designs; a service hands points out one by one.
        warnings.simplefilter("ignore", UserWarning)
        points = engine.random(count)
    return [
        Suggestion(params=view.encoder.decode(point), meta={"sobol_index": view.next_number + i})
        for i, point in enumerate(points)
    ]
