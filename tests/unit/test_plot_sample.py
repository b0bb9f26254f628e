"""The plot sample of a big study: small, yet the best-so-far line and the front stay exact."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from tunehub.schema import Direction, Objective
from tunehub.server.analysis.sample import PlotPoint, plot_sample, thinned

MIN = Objective(name="loss", direction=Direction.MINIMIZE)
MAX = Objective(name="acc", direction=Direction.MAXIMIZE)
Axis = Callable[[PlotPoint], float]


def study(n: int, seed: int, *, budgets: bool = False) -> list[PlotPoint]:
    rng = random.Random(seed)
    points = []
    for number in range(n):
        state = rng.choice(["completed"] * 8 + ["failed", "running"])
        loss = rng.lognormvariate(0, 1)
        values = {"loss": loss, "acc": 1 / (1 + loss) + rng.gauss(0, 0.1)}
        budget = rng.choice([1.0, 3.0, 9.0]) if budgets else None
        points.append(
            PlotPoint(
                number=number,
                state=state,
                values=values if state == "completed" else None,
                cost=rng.uniform(1, 100),
                budget=budget,
            )
        )
    return points


def best_so_far(
    points: list[PlotPoint], name: str, sign: float, budget: float | None = None
) -> list[tuple[int, float]]:
    line: list[tuple[int, float]] = []
    best = math.inf
    for p in points:
        if p.state != "completed" or not p.values or (budget is not None and p.budget != budget):
            continue
        if sign * p.values[name] < best:
            best = sign * p.values[name]
            line.append((p.number, p.values[name]))
    return line


def front(points: list[PlotPoint], x: Axis, y: Axis) -> set[int]:
    done = [p for p in points if p.state == "completed" and p.values]
    return {
        p.number
        for p in done
        if not any(x(q) <= x(p) and y(q) <= y(p) and (x(q) < x(p) or y(q) < y(p)) for q in done)
    }


def test_a_small_study_is_returned_whole() -> None:
    points = study(50, 0)
    assert plot_sample(points, [MIN], 50) == list(range(50))


@pytest.mark.parametrize("seed", range(5))
def test_best_so_far_lines_and_front_of_the_sample_match_all_trials(seed: int) -> None:
    points = study(3000, seed)
    chosen = plot_sample(points, [MIN, MAX], 300)
    assert len(chosen) == 300 and chosen == sorted(set(chosen))
    sample = [points[i] for i in chosen]
    assert best_so_far(sample, "loss", 1) == best_so_far(points, "loss", 1)
    assert best_so_far(sample, "acc", -1) == best_so_far(points, "acc", -1)

    def loss(p: PlotPoint) -> float:
        return p.values["loss"] if p.values else math.inf

    def neg_acc(p: PlotPoint) -> float:
        return -p.values["acc"] if p.values else math.inf

    assert front(sample, loss, neg_acc) == front(points, loss, neg_acc)
    last = max(p.number for p in points if p.state == "completed")
    assert last in {p.number for p in sample}
    # The rest is spread over the whole study, not bunched at one end.
    numbers = [p.number for p in sample]
    assert numbers[0] < 100 and numbers[-1] > 2900


def test_one_objective_keeps_the_cost_front_and_the_top_budgets_best() -> None:
    points = study(4000, 7, budgets=True)
    sample = [points[i] for i in plot_sample(points, [MIN], 400)]
    assert best_so_far(sample, "loss", 1, budget=9.0) == best_so_far(points, "loss", 1, budget=9.0)

    def cost(p: PlotPoint) -> float:
        return p.cost if p.cost is not None else math.inf

    def loss(p: PlotPoint) -> float:
        return p.values["loss"] if p.values else math.inf

    assert front(sample, cost, loss) == front(points, cost, loss)
    ranked = sorted((p.values["loss"], p.number) for p in points if p.values)
    assert {n for _, n in ranked[:80]} <= {p.number for p in sample}


def test_a_front_bigger_than_the_limit_is_thinned_to_the_limit() -> None:
    # Every trial is on the front: loss rises as cost falls.
    points = [PlotPoint(i, "completed", {"loss": float(i)}, 1000.0 - i, None) for i in range(500)]
    chosen = plot_sample(points, [MIN], 40)
    assert len(chosen) == 40 and 0 in chosen and 499 in chosen


def test_thinned_keeps_the_ends() -> None:
    assert thinned(list(range(10)), 3) == [0, 4, 9]  # 4.5 rounds to even
    assert thinned([1, 2], 5) == [1, 2]
    assert thinned([1, 2, 3], 1) == [3] and thinned([1, 2, 3], 0) == []
