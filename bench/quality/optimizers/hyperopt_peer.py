"""Hyperopt's TPE through ``fmin``; conditional children become nested ``hp.choice`` branches."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bench.quality.optimizers.base import Context, Optimizer
from bench.quality.problem import Problem
from bench.quality.problem import recorder as problem_recorder
from bench.quality.space import Space
from bench.quality.trials import Params, Trial

_BRANCH = "__branch__"


class HyperoptTPE(Optimizer):
    """Hyperopt has no outcome constraints: an infeasible trial's loss is the problem's
    penalty plus its violation (see ``Problem.penalized``). It has no multi-objective
    mode, so such problems are n/a."""

    name = "hyperopt-tpe"
    requires = ("hyperopt",)

    def unsupported(self, problem: Problem) -> str | None:
        return "single objective only" if problem.multi_objective else None

    def optimize(self, problem: Problem, seed: int, budget: int, context: Context) -> list[Trial]:
        import numpy as np
        from hyperopt import STATUS_OK, Trials, fmin, tpe

        recorder = problem_recorder(problem, seed)

        def objective(sampled: Mapping[str, Any]) -> dict[str, Any]:
            outcome = recorder.evaluate(_flatten(problem.space, sampled))
            return {"loss": problem.penalized(outcome), "status": STATUS_OK}

        fmin(
            objective,
            hyperopt_space(problem.space),
            algo=tpe.suggest,
            max_evals=budget,
            trials=Trials(),
            rstate=np.random.default_rng(seed),
            show_progressbar=False,
        )
        return recorder.trials


def hyperopt_space(space: Space) -> dict[str, Any]:
    """A hyperopt expression sampling a (possibly nested) dict of the parameters.

    A categorical parent whose children depend on it alone becomes an
    ``hp.choice`` over branches, each holding that choice's children; children of
    several parents or of a numeric parent are sampled always and dropped later.
    """
    children: dict[str, list[str]] = {}
    roots: list[str] = []
    for name, spec in space.items():
        condition = spec.get("condition") or {}
        parent = next(iter(condition)) if len(condition) == 1 else None
        if parent is not None and space[parent]["type"] == "categorical":
            children.setdefault(parent, []).append(name)
        else:
            roots.append(name)
    return _fragment(space, children, roots, prefix="")


def _fragment(
    space: Space, children: Mapping[str, list[str]], names: list[str], prefix: str
) -> dict[str, Any]:
    from hyperopt import hp

    out: dict[str, Any] = {}
    for name in names:
        label = f"{prefix}{name}"
        kids = children.get(name, [])
        if not kids:
            out[name] = _param(label, space[name])
            continue
        branches = []
        for choice in space[name]["choices"]:
            active = [k for k in kids if choice in space[k]["condition"][name]]
            branch = _fragment(space, children, active, prefix=f"{label}={choice}/")
            branches.append({name: choice, **branch})
        out[f"{_BRANCH}{name}"] = hp.choice(label, branches)
    return out


def _param(label: str, spec: Mapping[str, Any]) -> Any:
    from hyperopt import hp
    from hyperopt.pyll import scope

    if spec["type"] == "categorical":
        return hp.choice(label, list(spec["choices"]))
    low, high, log = spec["low"], spec["high"], spec.get("log", False)
    if spec["type"] == "int":
        if log:
            return scope.int(hp.qloguniform(label, math.log(low), math.log(high), 1))
        return hp.uniformint(label, low, high)
    if log:
        return hp.loguniform(label, math.log(low), math.log(high))
    return hp.uniform(label, low, high)


def _flatten(space: Space, sampled: Mapping[str, Any]) -> Params:
    out: Params = {}
    for key, value in sampled.items():
        if key.startswith(_BRANCH):
            out.update(_flatten(space, value))
        else:
            out[key] = value
    for name, value in out.items():
        spec = space[name]
        if spec["type"] == "int":  # q-rounding may step just past a bound
            out[name] = min(max(int(value), spec["low"]), spec["high"])
        elif spec["type"] == "float":
            out[name] = min(max(float(value), spec["low"]), spec["high"])
    return out
