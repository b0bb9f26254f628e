"""Where the schedulers' new configurations come from: ``random`` or the ``gp`` model.

The model-based searcher pulls in torch and BoTorch; it is imported the first time a
study asks for it, so a server whose studies sample at random starts without them.
"""

from __future__ import annotations

from tunehub.server.policies.base import StudyView
from tunehub.server.policies.random import random_params
from tunehub.space import ParamValue


def sampled_params(view: StudyView, number: int, searcher: str) -> dict[str, ParamValue]:
    """The configuration of trial ``number`` from ``searcher`` (``random`` or ``gp``)."""
    if searcher == "gp":
        from tunehub.server.policies import mobster

        params = mobster.model_based(view, number)
        if params is not None:
            return params
    return random_params(view, number)
