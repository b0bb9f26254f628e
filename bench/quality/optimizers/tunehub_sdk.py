"""Tunehub policies, driven through the SDK against the harness's live server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.quality.optimizers.base import Context, Optimizer
from bench.quality.problem import Problem
from bench.quality.problem import recorder as problem_recorder
from bench.quality.trials import Trial


class TunehubPolicy(Optimizer):
    """``tunehub-<policy>``: one study per run, asked and told one trial at a time.

    Going through HTTP and the server's store is the point: it is how users
    run the policy, so the benchmark judges what they get.
    """

    def __init__(
        self, policy: str, options: Mapping[str, Any] | None = None, *, name: str | None = None
    ) -> None:
        self.policy = policy
        self.options = dict(options or {})
        self.name = name or f"tunehub-{policy}"
        self.requires = ("tunehub",)

    def optimize(self, problem: Problem, seed: int, budget: int, context: Context) -> list[Trial]:
        import tunehub

        if context.tunehub_url is None:
            raise RuntimeError("no Tunehub server was started for this run")
        recorder = problem_recorder(problem, seed)
        with tunehub.Client(context.tunehub_url) as client:
            study = client.create_study(
                name=f"quality-{context.run_id}-{problem.name}-{self.name}-s{seed}".replace(
                    "=", ":"
                ),
                space=problem.space,
                objectives=[{"name": n, "direction": "minimize"} for n in problem.objectives],
                policy=self.policy,
                policy_options=self.options,
                seed=seed,
                constraints=[c.spec() for c in problem.constraints],
            )
            for _ in range(budget):
                trial = study.ask()
                outcome = recorder.evaluate(trial.params)
                values = {n: outcome[n] for n in problem.objectives}
                metrics = {c.name: outcome[c.name] for c in problem.constraints}
                trial.tell(values, metrics=metrics or None)
        return recorder.trials
