"""The sparse-solver configuration task that ac studies and bench/ac run."""

from __future__ import annotations

import pytest

from examples import sparse_solver


def test_instances_are_reproducible_and_solve_with_a_good_configuration() -> None:
    first = sparse_solver.instances(4, seed=7)
    assert first == sparse_solver.instances(4, seed=7) != sparse_solver.instances(4, seed=8)
    assert len({i["id"] for i in first}) == 4
    good = {"method": "gmres", "preconditioner": "ilu", "drop_tol": 1e-4, "fill_factor": 10.0}
    for instance in first:
        seconds = sparse_solver.solve({**good, "restart": 30}, instance["features"], cutoff=30)
        assert 0 < seconds < 30


def test_a_run_past_its_cutoff_stops_and_a_diverging_one_raises() -> None:
    big = {"n": 150.0, "eps": 0.01, "c": 0.0}
    slow = {"method": "gmres", "preconditioner": "none", "restart": 5}
    with pytest.raises(sparse_solver.CutOff):
        sparse_solver.solve(slow, big, cutoff=0.05)
    skewed = {"n": 40.0, "eps": 0.05, "c": 30.0}  # far from symmetric: CG cannot solve it
    with pytest.raises(RuntimeError, match="did not converge"):
        sparse_solver.solve({"method": "cg", "preconditioner": "none"}, skewed, cutoff=30)
