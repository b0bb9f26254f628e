"""The ``gp`` policy behind a live server: parallel workers, restarts, constraints, fronts."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tunehub
from tests.support.server import live_server
from tunehub.errors import InvalidError
from tunehub.server.analysis import pareto

SPACE = {
    "x": {"type": "float", "low": -2.0, "high": 2.0},
    "y": {"type": "float", "low": -2.0, "high": 2.0},
    "k": {"type": "categorical", "choices": ["a", "b"]},
}
# Cheaper acquisition search than the defaults: these tests check behaviour.
OPTIONS = {"n_init": 4, "raw_samples": 64, "num_restarts": 2}


def loss(params: dict[str, Any]) -> float:
    shift = 0.0 if params["k"] == "a" else 0.5
    return float((params["x"] - 0.4) ** 2 + (params["y"] + 0.3) ** 2 + shift)


def test_four_parallel_workers_get_distinct_suggestions(shared_server_url: str) -> None:
    client = tunehub.Client(shared_server_url)
    study = client.create_study(
        name="gp-parallel",
        space=SPACE,
        objectives="loss",
        policy="gp",
        policy_options=OPTIONS,
        seed=5,
    )
    seen: list[tuple[Any, ...]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        try:
            for _ in range(3):
                barrier.wait(timeout=120)  # all four ask while the others' trials still run
                trial = study.ask(worker=name)
                seen.append(tuple(sorted(trial.params.items())))
                barrier.wait(timeout=120)
                trial.tell(loss(trial.params))
        except BaseException as error:
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(seen) == 12
    assert len(set(seen)) == 12, "two workers got the same configuration"
    models = [t.policy_meta["model"] for t in study.trials() if t.policy_meta]
    assert models.count("gp") >= 8


def test_a_restarted_server_suggests_what_the_old_one_would_have(tmp_path: Path) -> None:
    db = tmp_path / "study.db"
    url = f"sqlite:///{db}"
    with live_server(url, log=tmp_path / "one.log") as base:
        study = tunehub.Client(base).create_study(
            name="gp-restart",
            space=SPACE,
            objectives="loss",
            policy="gp",
            policy_options={**OPTIONS, "refit_growth": 0.3},
            seed=9,
        )
        for _ in range(9):  # the server's fit cache is warm, its last fit a warm start
            trial = study.ask()
            trial.tell(loss(trial.params))
        saved = _copy_database(db, tmp_path / "saved")
        first = [study.ask().params for _ in range(2)]
    _copy_database(saved, db)
    with live_server(url, log=tmp_path / "two.log") as base:
        study = tunehub.Client(base).get_study("gp-restart")
        again = [study.ask().params for _ in range(2)]
    assert again == first


def _copy_database(db: Path, to: Path) -> Path:
    """Copy a SQLite database with its write-ahead log, replacing what is at ``to``."""
    for suffix in ("", "-wal", "-shm"):
        source, target = Path(f"{db}{suffix}"), Path(f"{to}{suffix}")
        target.unlink(missing_ok=True)
        if source.exists():
            shutil.copy(source, target)
    return to


def test_constraints_best_pareto_and_importance(shared_server_url: str) -> None:
    client = tunehub.Client(shared_server_url)
    study = client.create_study(
        name="gp-front",
        space=SPACE,
        objectives=[{"name": "f1"}, {"name": "f2", "direction": "maximize"}],
        policy="random",
        seed=3,
        constraints=[{"name": "mem_gb", "op": "<=", "bound": 12}],
    )
    told: list[tuple[float, float, float]] = []
    for _ in range(30):
        trial = study.ask()
        x, y = trial.params["x"], trial.params["y"]
        f1, f2, mem = x * x + y * y, -((x - 1) ** 2) - y * y, 10 + 4 * y
        told.append((f1, f2, mem))
        trial.tell({"f1": f1, "f2": f2}, metrics={"mem_gb": mem})
    with pytest.raises(InvalidError, match=r"metrics\.mem_gb"):
        study.ask().tell({"f1": 0.0, "f2": 0.0})
    feasible = np.array([(f1, -f2) for f1, f2, mem in told if mem <= 12])
    expected = {tuple(p) for p in feasible[pareto.pareto_mask(feasible)]}
    front = study.pareto()
    got = {(t.values["f1"], -t.values["f2"]) for t in front.trials if t.values}
    assert got == expected
    assert {t.id for t in front.trials} == {t.id for t in study.best_trials}
    assert all((t.metrics or {})["mem_gb"] <= 12 for t in front.trials)
    assert front.reference_inferred and front.reference_point is not None
    reference = [front.reference_point["f1"], -front.reference_point["f2"]]
    assert front.hypervolume == pytest.approx(
        pareto.hypervolume(np.array(sorted(expected)), reference)
    )
    importance = study.importance()
    assert importance.objective == "f1" and importance.n_trials == len(feasible)
    assert set(importance.importances) == {"x", "y", "k"}
    assert list(importance.importances)[-1] == "k"  # k does not enter f1
    with pytest.raises(InvalidError, match="objective"):
        study.importance("nope")


def test_single_objective_best_counts_only_feasible_trials(shared_server_url: str) -> None:
    client = tunehub.Client(shared_server_url)
    study = client.create_study(
        name="gp-feasible-best",
        space=SPACE,
        objectives="loss",
        policy="random",
        seed=1,
        constraints=[{"name": "c", "op": ">=", "bound": 0.0}],
    )
    values = []
    for i in range(10):
        trial = study.ask()
        value, c = float(i), (1.0 if i >= 4 else -1.0)  # the four lowest are infeasible
        values.append(value)
        trial.tell(value, metrics={"c": c})
    best = study.best_trial
    assert best is not None and best.values == {"loss": 4.0}
    front = study.pareto()  # one objective: the best feasible trial, and the length to the bound
    assert [t.id for t in front.trials] == [best.id]
    assert front.reference_point is not None
    assert front.hypervolume == pytest.approx(front.reference_point["loss"] - 4.0)
    with pytest.raises(InvalidError, match=r"metrics\.c"):
        study.ask().tell(1.0, metrics={"c": 10**400})  # not a finite number


def test_other_studies_and_tells_are_served_while_a_model_fits(shared_server_url: str) -> None:
    client = tunehub.Client(shared_server_url)
    heavy = {"n_init": 2, "raw_samples": 8192, "num_restarts": 32}  # a deliberately slow ask
    slow = client.create_study(
        name="gp-slow", space=SPACE, objectives="loss", policy="gp", policy_options=heavy, seed=2
    )
    for _ in range(3):
        trial = slow.ask()
        trial.tell(loss(trial.params))
    running = slow.ask()
    quick = client.create_study(name="quick", space=SPACE, objectives="loss", policy="random")
    finished = threading.Event()
    served_meanwhile = 0

    def ask_slow() -> None:
        slow.ask()
        finished.set()

    thread = threading.Thread(target=ask_slow)
    thread.start()
    running.tell(loss(running.params))  # a tell to the study being modelled is not blocked
    told_during = not finished.is_set()
    while not finished.is_set():
        trial = quick.ask()
        trial.tell(loss(trial.params))
        served_meanwhile += not finished.is_set()
    thread.join()
    assert told_during
    assert served_meanwhile >= 5
