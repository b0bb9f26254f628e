"""The broad suite's problem families, each built from a published function or a real task.

``all_problems()`` lists them in family order; ``bench.quality.problems``
registers them beside the classic seven.
"""

from __future__ import annotations

from bench.quality.problem import Problem


def all_problems() -> list[Problem]:
    from bench.quality.suite import (
        bbob,
        constrained,
        mixed,
        multiobjective,
        noisy,
        sklearn_tasks,
        synthetic,
    )

    return [
        *synthetic.problems(),
        *bbob.problems(),
        *noisy.problems(),
        *mixed.problems(),
        *sklearn_tasks.problems(),
        *constrained.problems(),
        *multiobjective.problems(),
    ]
