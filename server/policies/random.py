"""Uniform random search over the unit cube."""

from __future__ import annotations

import numpy as np

from tunehub.server.policies.base import Policy, StudyView, Suggestion


class RandomPolicy(Policy):
    """Each trial's point depends only on the study seed and its number.

    It reads no trials, so its ask costs the same at 10 or 100,000 trials, and
    any server process proposes the same configuration for the same number.
    """

    name = "random"

    def suggest(self, view: StudyView, count: int) -> list[Suggestion]:
        out = []
        for number in range(view.next_number, view.next_number + count):
            rng = np.random.default_rng([view.seed, number])
            out.append(Suggestion(params=view.encoder.decode(rng.random(view.encoder.dims))))
        return out
