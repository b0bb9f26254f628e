"""The optimizers compared: Tunehub's schedulers through a live server, and their peers.

Every adapter runs until the ledger's total budget is spent, with 4 parallel
workers where the optimizer is asynchronous (Tunehub's policies through 4 SDK
threads, Optuna with ``n_jobs=4``, Ray Tune with 4 concurrent trials, ASHA and BOHB). The
``dehb`` package is driven by its ask/tell loop one job at a time, as its own
examples do without a Dask cluster.
"""

from __future__ import annotations

import math
import random
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.multifidelity.ledger import Ledger
from bench.quality.space import sample

WORKERS = 4
Runner = Callable[[Ledger, int, "str | None"], None]


def tunehub_policy(policy: str, options: dict[str, Any] | None = None) -> Runner:
    def run(ledger: Ledger, seed: int, url: str | None) -> None:
        import tunehub

        if url is None:
            raise RuntimeError("no Tunehub server was started for this run")
        problem = ledger.problem
        with tunehub.Client(url) as client:
            study = client.create_study(
                name=f"mf-{problem.name}-{policy}-s{seed}-{random.getrandbits(32):08x}",
                space=problem.space,
                objectives="loss",
                policy=policy,
                policy_options=options,
                fidelity=problem.fidelity.spec("epochs"),
                seed=seed,
            )
            errors: list[BaseException] = []

            def worker() -> None:
                try:
                    while not ledger.exhausted() and not errors:
                        trial = study.ask()
                        assert trial.budget is not None
                        parent = trial.parent
                        start = parent.budget or 0.0 if parent is not None else 0.0
                        loss = ledger.loss(trial.params, trial.budget)
                        ledger.charge(trial.budget - start)  # resumed from the parent
                        ledger.record(trial.params, trial.budget, loss)
                        trial.tell(loss)
                except BaseException as error:
                    errors.append(error)

            threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if errors:
                raise errors[0]

    return run


def config_space(problem: Any, seed: int) -> Any:
    """The problem's space as a ConfigSpace, the form DEHB and BOHB take."""
    import ConfigSpace as CS

    space = CS.ConfigurationSpace(seed=seed)
    for name, spec in problem.space.items():
        if spec["type"] == "categorical":
            space.add(CS.Categorical(name, list(spec["choices"])))
        elif spec["type"] == "int":
            space.add(CS.Integer(name, (spec["low"], spec["high"]), log=spec.get("log", False)))
        else:
            space.add(CS.Float(name, (spec["low"], spec["high"]), log=spec.get("log", False)))
    return space


def dehb_package(ledger: Ledger, seed: int, url: str | None) -> None:
    from dehb import DEHB

    problem = ledger.problem
    space = config_space(problem, seed)
    fidelity = problem.fidelity
    with tempfile.TemporaryDirectory() as folder:
        optimizer = DEHB(
            f=lambda config, fidelity, **_: {"fitness": 0.0, "cost": 0.0},
            cs=space,
            min_fidelity=fidelity.min,
            max_fidelity=fidelity.max,
            eta=fidelity.eta,
            n_workers=1,
            output_path=folder,
            seed=seed,
        )
        while not ledger.exhausted():
            job = optimizer.ask()
            params = dict(job["config"])
            budget = float(job["fidelity"])
            loss = ledger.loss(params, budget)
            ledger.charge(budget)  # DEHB trains every configuration from scratch
            ledger.record(params, budget, loss)
            optimizer.tell(job, {"fitness": loss, "cost": budget})


def optuna_hyperband(ledger: Ledger, seed: int, url: str | None) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    problem = ledger.problem
    fidelity = problem.fidelity
    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.HyperbandPruner(
            min_resource=int(fidelity.min),
            max_resource=int(fidelity.max),
            reduction_factor=int(fidelity.eta),
        ),
    )

    def objective(trial: optuna.Trial) -> float:
        params = {name: _suggest(trial, name, spec) for name, spec in problem.space.items()}
        loss = math.inf
        for epoch in range(1, int(fidelity.max) + 1):
            loss = ledger.loss(params, epoch)
            ledger.charge(1)
            trial.report(loss, epoch)
            if trial.should_prune():
                ledger.record(params, epoch, loss)
                raise optuna.TrialPruned()
        ledger.record(params, fidelity.max, loss)
        return loss

    def stop_when_spent(study: optuna.Study, _: Any) -> None:
        if ledger.exhausted():
            study.stop()

    study.optimize(objective, n_jobs=WORKERS, callbacks=[stop_when_spent])


def _suggest(trial: Any, name: str, spec: dict[str, Any]) -> Any:
    if spec["type"] == "categorical":
        return trial.suggest_categorical(name, list(spec["choices"]))
    log = spec.get("log", False)
    if spec["type"] == "int":
        return trial.suggest_int(name, spec["low"], spec["high"], log=log)
    return trial.suggest_float(name, spec["low"], spec["high"], log=log)


def ray_asha(ledger: Ledger, seed: int, url: str | None) -> None:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator

    problem = ledger.problem
    fidelity = problem.fidelity
    space: dict[str, Any] = {}
    for name, spec in problem.space.items():
        if spec["type"] == "categorical":
            space[name] = tune.choice(list(spec["choices"]))
        elif spec["type"] == "int":
            space[name] = (tune.lograndint if spec.get("log") else tune.randint)(
                spec["low"], spec["high"] + 1
            )
        else:
            space[name] = (tune.loguniform if spec.get("log") else tune.uniform)(
                spec["low"], spec["high"]
            )
    _run_ray_tune(
        ledger,
        _trainable,
        {**space, "__problem": problem.name},
        scheduler=ASHAScheduler(
            time_attr="epoch",
            max_t=int(fidelity.max),
            grace_period=int(fidelity.min),
            reduction_factor=fidelity.eta,
        ),
        search_alg=BasicVariantGenerator(random_state=seed, max_concurrent=WORKERS),
    )


def ray_bohb(ledger: Ledger, seed: int, url: str | None) -> None:
    """Ray Tune's BOHB: HyperBandForBOHB pauses trials at rungs, TuneBOHB's KDE proposes.

    Paused trials resume from a checkpoint of the epoch they reached, so a
    promotion is charged only for the epochs it adds, as Tunehub's are.
    """
    from ray.tune.schedulers import HyperBandForBOHB
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.bohb import TuneBOHB

    problem = ledger.problem
    fidelity = problem.fidelity
    searcher = TuneBOHB(space=config_space(problem, seed), metric="loss", mode="min", seed=seed)
    _run_ray_tune(
        ledger,
        _resumable_trainable,
        {"__problem": problem.name},
        scheduler=HyperBandForBOHB(
            time_attr="epoch", max_t=int(fidelity.max), reduction_factor=fidelity.eta
        ),
        search_alg=ConcurrencyLimiter(searcher, max_concurrent=WORKERS),
    )


def _run_ray_tune(
    ledger: Ledger, trainable: Any, param_space: dict[str, Any], scheduler: Any, search_alg: Any
) -> None:
    """A local Ray with 4 CPUs, one trial per CPU, until the ledger's budget is spent."""
    import ray
    from ray import tune

    key = f"{ledger.problem.name}-{random.getrandbits(32)}"
    _ACTIVE[key] = ledger
    ray.init(num_cpus=WORKERS, include_dashboard=False, log_to_driver=False)
    try:
        with tempfile.TemporaryDirectory() as folder:
            tuner = tune.Tuner(
                tune.with_resources(trainable, {"cpu": 1}),
                param_space=param_space,
                tune_config=tune.TuneConfig(
                    metric="loss",
                    mode="min",
                    num_samples=100_000,
                    max_concurrent_trials=WORKERS,
                    reuse_actors=True,
                    scheduler=scheduler,
                    search_alg=search_alg,
                ),
                run_config=tune.RunConfig(
                    storage_path=folder,
                    stop=_spent_stopper(key),
                    callbacks=[_spend_callback(key)],
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                    verbose=0,
                ),
            )
            tuner.fit()
    finally:
        _ACTIVE.pop(key, None)
        ray.shutdown()


# Ray pickles the tuner's callbacks and stopper: they name the run's ledger by key.
_ACTIVE: dict[str, Ledger] = {}


def _trainable(config: dict[str, Any]) -> None:
    from ray import tune

    from bench.multifidelity.problems import get_problem

    params = dict(config)
    task = get_problem(params.pop("__problem"))
    for epoch in range(1, int(task.fidelity.max) + 1):
        tune.report({"loss": task.evaluate(params, epoch), "epoch": epoch})


def _resumable_trainable(config: dict[str, Any]) -> None:
    import json

    from ray import tune

    from bench.multifidelity.problems import get_problem

    params = dict(config)
    task = get_problem(params.pop("__problem"))
    reached = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            reached = json.loads(Path(folder, "epoch.json").read_text())["epoch"]
    pauses = _hyperband_milestones(int(task.fidelity.max), task.fidelity.eta)
    for epoch in range(reached + 1, int(task.fidelity.max) + 1):
        metrics = {"loss": task.evaluate(params, epoch), "epoch": epoch}
        if epoch not in pauses:
            tune.report(metrics)
            continue
        with tempfile.TemporaryDirectory() as folder:
            Path(folder, "epoch.json").write_text(json.dumps({"epoch": epoch}))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def _hyperband_milestones(max_t: int, eta: float) -> set[int]:
    """The epochs where Ray's HyperBand may pause a trial (its r0 = int(max_t / eta^s) rungs).

    Checkpointing only there keeps Ray's per-report cost off every other epoch.
    """
    out: set[int] = set()
    for s in range(round(math.log(max_t) / math.log(eta)) + 1):
        r = int(max_t * eta ** (-s))
        while r < max_t:
            out.add(r)
            r = int(min(r * eta, max_t))
        out.add(max_t)
    return out


def _spent_stopper(key: str) -> Any:
    from ray import tune

    class SpentStopper(tune.Stopper):  # type: ignore[misc]
        """Ends the experiment once the ledger's budget is spent."""

        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            return False

        def stop_all(self) -> bool:
            return _ledger(key).exhausted()

    return SpentStopper()


def _ledger(key: str) -> Ledger:
    return _ACTIVE[key]


def _spend_callback(key: str) -> Any:
    from ray import tune

    class Spend(tune.Callback):  # type: ignore[misc]
        """Each reported epoch is charged; a trial's last report is its evaluation."""

        def __init__(self) -> None:
            self.last: dict[str, tuple[int, float]] = {}

        def on_trial_result(
            self, iteration: int, trials: Any, trial: Any, result: Any, **_: Any
        ) -> None:
            _ledger(key).charge(1)
            self.last[trial.trial_id] = (result["epoch"], result["loss"])

        def on_trial_complete(self, iteration: int, trials: Any, trial: Any, **_: Any) -> None:
            epoch, loss = self.last.get(trial.trial_id, (0, math.inf))
            params = {k: v for k, v in trial.config.items() if k != "__problem"}
            _ledger(key).record(params, epoch, loss)

    return Spend()


def random_search(ledger: Ledger, seed: int, url: str | None) -> None:
    rng = random.Random(seed)
    top = ledger.problem.fidelity.max
    while not ledger.exhausted():
        params = sample(ledger.problem.space, rng)
        loss = ledger.loss(params, top)
        ledger.charge(top)
        ledger.record(params, top, loss)


OPTIMIZERS: dict[str, Runner] = {
    "tunehub-asha": tunehub_policy("asha"),
    "tunehub-hyperband": tunehub_policy("hyperband"),
    "tunehub-dehb": tunehub_policy("dehb"),
    "tunehub-asha-gp": tunehub_policy("asha", {"searcher": "gp"}),
    "dehb": dehb_package,
    "optuna-hyperband": optuna_hyperband,
    "ray-asha": ray_asha,
    "ray-bohb": ray_bohb,
    "random": random_search,
}
REQUIRES = {
    "dehb": "dehb",
    "ray-asha": "ray",
    "ray-bohb": "hpbandster",
    "optuna-hyperband": "optuna",
}
