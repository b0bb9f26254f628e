"""The tuners bench/ac compares on the solver problem, each spending one ledger's budget.

Each returns the configuration it would deploy: Tunehub's incumbent endpoint,
SMAC's incumbent, random search's best mean, or the solver's default.
"""

from __future__ import annotations

import random
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.ac import solver_problem as problem
from bench.ac.solver_problem import SolverLedger, Spent

Tuner = Callable[[SolverLedger, int, str | None], dict[str, Any]]

RANDOM_INSTANCES = 5
"""Train instances each random configuration is run on (the same ones for all)."""


def _tunehub(policy: str) -> Tuner:
    def tune(ledger: SolverLedger, seed: int, url: str | None) -> dict[str, Any]:
        import tunehub
        from examples.sparse_solver import SPACE

        assert url is not None, "Tunehub tuners need the harness's server"
        with tunehub.Client(url, timeout=600.0) as client:
            study = client.create_study(
                name=f"ac-{policy}-{seed}-{uuid.uuid4().hex[:8]}",
                space=SPACE,
                objectives="runtime",
                policy=policy,
                seed=seed,
                instances={"train": problem.TRAIN, "test": problem.TEST, "par": problem.PAR},
                cutoff=problem.CUTOFF,
            )
            try:
                while True:
                    trial = study.ask()
                    assert trial.instance is not None
                    try:
                        run = ledger.run(dict(trial.params), trial.instance, trial.cutoff)
                    except Spent:
                        trial.fail("the bench's solver time is spent")
                        raise
                    if run.status == "ok":
                        trial.tell(run.seconds)
                    elif run.status == "timeout":
                        trial.timeout()
                    else:
                        trial.fail("did not converge")
            except Spent:
                pass
            return dict(study.incumbent().params)

    return tune


def smac_ac(ledger: SolverLedger, seed: int, url: str | None) -> dict[str, Any]:
    """SMAC3's algorithm-configuration facade (random forest over configurations and
    instance features, intensification), driven by ask and tell."""
    from smac import AlgorithmConfigurationFacade as Facade
    from smac import Scenario
    from smac.runhistory.dataclasses import TrialValue
    from smac.runhistory.enumerations import StatusType

    from bench.quality.optimizers.smac_peer import configspace
    from examples.sparse_solver import SPACE

    scenario = Scenario(
        configspace({k: v.model_dump() for k, v in SPACE.items()}, seed),
        name=f"ac-smac-{seed}-{uuid.uuid4().hex[:8]}",
        output_directory=Path(tempfile.mkdtemp(prefix="bench-ac-")) / "smac",
        deterministic=True,
        instances=[i["id"] for i in problem.TRAIN],
        instance_features={i["id"]: list(i["features"].values()) for i in problem.TRAIN},
        n_trials=1_000_000,
        seed=seed,
    )
    smac = Facade(scenario, _told_by_the_loop, overwrite=True, logging_level=40)
    status = {"ok": StatusType.SUCCESS, "timeout": StatusType.TIMEOUT, "crash": StatusType.CRASHED}
    try:
        while True:
            info = smac.ask()
            assert info.instance is not None
            run = ledger.run(dict(info.config), info.instance)
            smac.tell(
                info,
                TrialValue(
                    cost=problem.par_score(run), time=run.seconds, status=status[run.status]
                ),
            )
    except Spent:
        pass
    incumbent = smac.intensifier.get_incumbent()
    return dict(incumbent) if incumbent is not None else dict(problem.DEFAULT)


def random_search(ledger: SolverLedger, seed: int, url: str | None) -> dict[str, Any]:
    """Random configurations, each run on the same few train instances; the best mean wins."""
    from bench.quality.space import sample
    from examples.sparse_solver import SPACE

    space = {k: v.model_dump() for k, v in SPACE.items()}
    rng = random.Random(f"ac-random:{seed}")
    instances = [i["id"] for i in rng.sample(problem.TRAIN, RANDOM_INSTANCES)]
    best: tuple[float, dict[str, Any]] | None = None
    try:
        while True:
            params = sample(space, rng)
            scores = [problem.par_score(ledger.run(params, i)) for i in instances]
            mean = float(np.mean(scores))
            if best is None or mean < best[0]:
                best = (mean, params)
    except Spent:
        pass
    return best[1] if best is not None else dict(problem.DEFAULT)


def default(ledger: SolverLedger, seed: int, url: str | None) -> dict[str, Any]:
    """No tuning: scipy's GMRES as it comes."""
    return dict(problem.DEFAULT)


def _told_by_the_loop(config: Any, instance: str, seed: int = 0) -> float:
    """SMAC insists on a target function; the loop evaluates and tells instead."""
    raise RuntimeError("evaluated by the ask-and-tell loop")


TUNERS: dict[str, Tuner] = {
    "tunehub-ac-race": _tunehub("ac-race"),
    "tunehub-ac-band": _tunehub("ac-band"),
    "smac-ac": smac_ac,
    "random": random_search,
    "default": default,
}
