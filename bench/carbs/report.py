"""bench/carbs's report: median final hypervolume per optimizer, exponents, plots."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.carbs import metrics
from bench.carbs.problems import PROBLEMS, Params, Problem
from bench.spread import quartiles

OURS = "tunehub-carbs"


def _total(run: dict[str, Any]) -> float:
    """The cost the run was given (a scaled budget in smoke runs)."""
    return float(run.get("total_cost") or PROBLEMS[run["problem"]].total_cost)


def summarize(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """Final hypervolumes by problem, then optimizer (one per successful seed)."""
    out: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        if run["status"] != "ok":
            continue
        problem = PROBLEMS[run["problem"]]
        final = metrics.hypervolume_at(run["evaluations"], _total(run), problem.reference)
        out.setdefault(run["problem"], {}).setdefault(run["optimizer"], []).append(final)
    return out


def write_report(runs: Sequence[dict[str, Any]], out: Path) -> str:
    finals = summarize(runs)
    lines = [
        "| problem | optimizer | seeds | median final hypervolume | IQR |",
        "|---|---|---:|---:|---|",
    ]
    verdicts = []
    for problem, by_optimizer in finals.items():
        for optimizer, values in sorted(
            by_optimizer.items(), key=lambda kv: -statistics.median(kv[1])
        ):
            q1, q2, q3 = quartiles(values)
            lines.append(
                f"| {problem} | {optimizer} | {len(values)} | {q2:.3f} | {q1:.3f} to {q3:.3f} |"
            )
        if OURS in by_optimizer:
            ours = statistics.median(by_optimizer[OURS])
            peers = {o: statistics.median(v) for o, v in by_optimizer.items() if o != OURS}
            if peers:
                best = max(peers, key=lambda o: peers[o])
                verdict = "yes" if ours > peers[best] else "no"
                verdicts.append(
                    f"- {problem}: {OURS} {ours:.3f} against the best peer {best} "
                    f"{peers[best]:.3f}: higher? {verdict}"
                )
    lines += ["", *verdicts, "", *_exponents(runs)]
    text = "\n".join(lines) + "\n"
    (out / "report.md").write_text(text)
    _plots(runs, out)
    return text


def _exponents(runs: Sequence[dict[str, Any]]) -> list[str]:
    """How close each run's scaling-law fit comes to the known exponents."""
    rows = [
        "| problem | optimizer | seed | parameter | found | true | error |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    by_parameter: dict[tuple[str, str], list[float]] = {}
    for run in sorted(runs, key=lambda r: (r["problem"], r["seed"])):
        problem = PROBLEMS[run["problem"]]
        if run["status"] != "ok" or not problem.exponents or run["optimizer"] != OURS:
            continue
        found = metrics.found_exponents(run["evaluations"], _total(run), list(problem.exponents))
        for name, true in problem.exponents.items():
            if name in found:
                error = abs(found[name] - true) / abs(true)
                rows.append(
                    f"| {run['problem']} | {run['optimizer']} | {run['seed']} | {name} | "
                    f"{found[name]:.3f} | {true:.3f} | {error:.0%} |"
                )
                by_parameter.setdefault((run["problem"], name), []).append(found[name])
    if not by_parameter:
        return []
    summary = ["", "Median over seeds of the exponent found:", ""]
    for (problem_name, name), values in by_parameter.items():
        true = PROBLEMS[problem_name].exponents[name]
        median = statistics.median(values)
        summary.append(
            f"- {problem_name} {name}: {median:.3f} against {true:.3f} "
            f"({abs(median - true) / abs(true):.0%} off, {len(values)} seeds)"
        )
    return rows + summary


def _plots(runs: Sequence[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name in sorted({r["problem"] for r in runs}):
        problem = PROBLEMS[name]
        figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
        by_optimizer: dict[str, list[list[float]]] = {}
        for run in runs:
            if run["problem"] == name and run["status"] == "ok":
                curve = metrics.curve(run["evaluations"], _total(run), problem.reference)
                by_optimizer.setdefault(run["optimizer"], []).append(curve)
        spends = metrics.spends(max(_total(r) for r in runs if r["problem"] == name))
        for optimizer, curves in sorted(by_optimizer.items()):
            median = [statistics.median(c[i] for c in curves) for i in range(len(spends))]
            left.plot(spends, median, label=optimizer, linewidth=2.5 if optimizer == OURS else 1.2)
        left.set(xscale="log", xlabel="cost spent", ylabel="hypervolume (objective, log10 cost)")
        left.set_title(f"{name}: median over seeds")
        left.legend(fontsize=8)
        first_seed = min(r["seed"] for r in runs if r["problem"] == name)
        for run in sorted(runs, key=lambda r: r["optimizer"]):
            if run["problem"] != name or run["status"] != "ok" or run["seed"] != first_seed:
                continue
            trials = sum(e["spent"] <= _total(run) for e in run["evaluations"])
            front = metrics.cost_front(run["evaluations"], _total(run))
            right.step(
                [e["cost"] for e in front],
                [e["objective"] for e in front],
                where="post",
                label=f"{run['optimizer']} ({trials} trials)",
                linewidth=2.5 if run["optimizer"] == OURS else 1.2,
            )
        if problem.optimum is not None:
            grid = np.geomspace(1e-3, 1e9, 400)
            inside = [p for p in map(problem.optimum, grid) if _inside(problem, p)]
            best = [problem.evaluate(p) for p in inside]
            right.plot(
                [c for _, c in best], [v for v, _ in best], "k--", linewidth=1, label="true front"
            )
        right.set(
            xscale="log", xlabel="cost", ylabel=problem.objective, ylim=(None, problem.reference[0])
        )
        right.set_title(f"Pareto front of each optimizer, seed {first_seed}")
        right.legend(fontsize=8)
        figure.tight_layout()
        figure.savefig(out / f"{name}.png", dpi=110)
        plt.close(figure)


def _inside(problem: Problem, params: Params) -> bool:
    """Whether closed-form settings respect the bounds (where one binds, they are not
    the best inside the box)."""
    return all(spec["low"] <= params[name] <= spec["high"] for name, spec in problem.space.items())
