"""Configure a sparse iterative solver: the runtime to solve generated PDE problems.

Each instance is a discretised convection-diffusion problem on an ``n x n`` grid,
``-(eps u_xx + u_yy) + c (u_x + u_y) = 1`` with upwind convection: ``n`` sets the
size, ``eps`` the anisotropy, ``c`` how far from symmetric the matrix is. A trial
solves its instance to a relative residual of 1e-8 with the configured Krylov
method and preconditioner and returns the seconds it took; a run that does not
converge raises, so the study stores it as failed (scored like a timeout).

Used by ``tests/integration/test_algorithm_configuration.py`` and ``bench/ac``::

    tunehub worker --study solvers --entrypoint examples.sparse_solver:train
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import tunehub

RTOL = 1e-8

SPACE: dict[str, Any] = {
    "method": tunehub.Categorical(["cg", "bicgstab", "gmres"]),
    "preconditioner": tunehub.Categorical(["none", "jacobi", "ilu"]),
    "drop_tol": tunehub.Float(1e-6, 1e-1, log=True, condition={"preconditioner": ["ilu"]}),
    "fill_factor": tunehub.Float(1.0, 20.0, log=True, condition={"preconditioner": ["ilu"]}),
    "restart": tunehub.Int(5, 200, log=True, condition={"method": ["gmres"]}),
}


def instances(count: int, *, seed: int, sizes: tuple[int, int] = (24, 64)) -> list[dict[str, Any]]:
    """``count`` problem instances, ids and features, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    found = []
    for k in range(count):
        n = int(rng.integers(sizes[0], sizes[1] + 1))
        eps = float(10 ** rng.uniform(-2, 0))
        c = float(rng.choice([0.0, 0.0, rng.uniform(1, 40)]))
        features = {"n": float(n), "eps": eps, "c": c}
        found.append({"id": f"cd-{seed}-{k}-n{n}", "features": features})
    return found


def matrix(features: dict[str, float]) -> sp.csr_matrix:
    n = int(features["n"])
    h = 1.0 / (n + 1)
    eps, c = features["eps"], features["c"]
    ones = np.ones(n)
    # 1-D second differences and upwind first differences, combined on the grid.
    second = sp.diags([-ones[:-1], 2 * ones, -ones[:-1]], [-1, 0, 1]) / h**2
    first = sp.diags([-ones[:-1], ones], [-1, 0]) / h
    eye = sp.identity(n)
    a = eps * sp.kron(eye, second) + sp.kron(second, eye)
    a = a + c * (sp.kron(eye, first) + sp.kron(first, eye))
    return sp.csr_matrix(a)


def preconditioner(a: sp.csr_matrix, params: dict[str, Any]) -> spla.LinearOperator | None:
    kind = params["preconditioner"]
    if kind == "none":
        return None
    if kind == "jacobi":
        inverse = 1.0 / a.diagonal()
        return spla.LinearOperator(a.shape, matvec=lambda v: inverse * v)
    factor = spla.spilu(
        a.tocsc(), drop_tol=float(params["drop_tol"]), fill_factor=float(params["fill_factor"])
    )
    return spla.LinearOperator(a.shape, matvec=factor.solve)


class CutOff(Exception):
    """The solve ran past its cutoff (checked between iterations)."""


def solve(
    params: dict[str, Any],
    features: dict[str, float],
    cutoff: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Seconds to solve the instance with ``params``; raises when it does not converge,
    and ``CutOff`` once ``cutoff`` seconds have passed (checked every iteration).

    ``clock`` measures them: wall time by default; ``time.process_time`` charges CPU
    time, which other processes on the machine do not inflate (``bench/ac``).
    """
    a = matrix(features)
    b = np.ones(a.shape[0])
    started = clock()

    def check(*_: Any) -> None:
        if cutoff is not None and clock() - started > cutoff:
            raise CutOff(f"past the cutoff of {cutoff:g} s")

    m = preconditioner(a, params)
    check()
    method = params["method"]
    maxiter = 50 * int(features["n"])
    if method == "cg":
        x, info = spla.cg(a, b, rtol=RTOL, maxiter=maxiter, M=m, callback=check)
    elif method == "bicgstab":
        x, info = spla.bicgstab(a, b, rtol=RTOL, maxiter=maxiter, M=m, callback=check)
    else:
        restart = int(params["restart"])
        x, info = spla.gmres(
            a,
            b,
            rtol=RTOL,
            restart=restart,
            maxiter=maxiter // restart,
            M=m,
            callback=check,
            callback_type="pr_norm",
        )
    seconds = clock() - started
    residual = np.linalg.norm(a @ x - b) / np.linalg.norm(b)
    if info != 0 or not residual < 100 * RTOL:
        raise RuntimeError(f"{method} did not converge (info {info}, residual {residual:.1e})")
    return seconds


def train(trial: tunehub.Trial) -> float:
    """The worker entrypoint: solve the trial's instance, return the seconds taken. (The
    worker's own alarm ends a run at its cutoff; ``CutOff`` is for in-process loops.)"""
    return solve(dict(trial.params), trial.instance_features)
