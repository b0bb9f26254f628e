"""Uniform random search over the unit cube."""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict

from tunehub.schema import Decision
from tunehub.server.policies.base import Policy, ReportRecord, StudyView, Suggestion, TrialRecord
from tunehub.server.policies.stopping import StoppingOptions, median_rule
from tunehub.space import ParamValue


def random_params(view: StudyView, number: int) -> dict[str, ParamValue]:
    """The random configuration of trial ``number``: a function of the seed and the number."""
    rng = random.Random(view.seed * 2**32 + number)
    return view.encoder.decode([rng.random() for _ in range(view.encoder.dims)])


class RandomOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stopping: StoppingOptions = StoppingOptions()


class RandomPolicy(Policy):
    """Each trial's point depends only on the study seed and its number.

    It reads no trials, so its ask costs the same at 10 or 100,000 trials, and
    any server process proposes the same configuration for the same number.
    Python's Mersenne Twister seeded with an integer gives the same stream on
    every platform and version, and seeding it is cheap.
    """

    name = "random"
    fast = True
    Options = RandomOptions

    def suggest(self, view: StudyView, count: int) -> list[Suggestion]:
        numbers = range(view.next_number, view.next_number + count)
        return [Suggestion(params=random_params(view, number)) for number in numbers]

    def decide(self, view: StudyView, trial: TrialRecord, report: ReportRecord) -> Decision:
        assert isinstance(self.options, RandomOptions)
        return median_rule(self.options.stopping, view, trial, report)
