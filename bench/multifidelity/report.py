"""report.md and one convergence plot per problem, from the runs' evaluations."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.multifidelity import metrics
from bench.multifidelity.problems import MFProblem, get_problem, scaled

TUNEHUB = "tunehub-"


def _fmt(value: float) -> str:
    if math.isinf(value):
        return "not reached"
    if math.isnan(value):
        return "-"
    return f"{value:.3g}"


def write_report(runs: Sequence[dict[str, Any]], out: Path, budget_scale: float = 1.0) -> None:
    problems = list(dict.fromkeys(r["problem"] for r in runs))
    optimizers = list(dict.fromkeys(r["optimizer"] for r in runs))
    lines = ["# bench/multifidelity", ""]
    standings: list[str] = []
    noise: list[str] = []
    for name in problems:
        problem = _with_random_target(scaled(get_problem(name), budget_scale), runs)
        unit = "regret" if problem.optimum is not None else "loss"
        lines += [
            f"## {name}",
            "",
            f"{problem.description}. Total budget per run: {problem.full_evaluations} "
            f"evaluations at the max budget ({problem.total_budget:g} epochs); target: "
            f"{unit} <= {problem.target:g}.",
            "",
            f"| optimizer | runs | final {unit}, median [IQR] | reached target | "
            "budget to target, median (max-budget evaluations) |",
            "|---|---:|---:|---:|---:|",
        ]
        summary: dict[str, tuple[float, list[float]]] = {}
        traces: dict[str, list[metrics.Trace]] = {}
        for optimizer in optimizers:
            mine = [r for r in runs if r["problem"] == name and r["optimizer"] == optimizer]
            ok = [r for r in mine if r["status"] == "ok"]
            if not ok:
                why = mine[0].get("message", "").splitlines()[0] if mine else "not run"
                lines.append(
                    f"| {optimizer} | 0 | {mine[0]['status'] if mine else '-'}: {why} | | |"
                )
                continue
            points = [metrics.trace(problem, r["evaluations"]) for r in ok]
            traces[optimizer] = points
            finals = [metrics.final(p) for p in points]
            to_target = [metrics.budget_to_target(problem, p) for p in points]
            low, high = metrics.iqr(finals)
            reached = sum(1 for b in to_target if math.isfinite(b))
            needed = metrics.median(to_target)
            summary[optimizer] = (needed, finals)
            lines.append(
                f"| {optimizer} | {len(ok)} | {_fmt(metrics.median(finals))} "
                f"[{_fmt(low)}, {_fmt(high)}] | {reached}/{len(ok)} | {_fmt(needed)} |"
            )
        lines.append("")
        standings.append(_standing(name, summary))
        if "tunehub-dehb" in summary and "dehb" in summary:
            same, p = metrics.same_within_noise(summary["tunehub-dehb"][1], summary["dehb"][1])
            ours, theirs = (metrics.median(summary[k][1]) for k in ("tunehub-dehb", "dehb"))
            verdict = "within noise" if same else ("better" if ours < theirs else "worse")
            noise.append(f"| {name} | {_fmt(ours)} | {_fmt(theirs)} | {p:.2f} | {verdict} |")
        _plot(problem, traces, out / f"{name}.png")
        lines += [f"![{name}]({name}.png)", ""]
    lines += [
        "## Budget to target: best Tunehub scheduler against the best peer",
        "",
        "| problem | best Tunehub | budget | best peer | budget | Tunehub <= peer? |",
        "|---|---|---:|---|---:|---|",
        *standings,
        "",
    ]
    if noise:
        lines += [
            "## Tunehub `dehb` against the `dehb` package (final regret, Mann-Whitney U)",
            "",
            "| problem | tunehub-dehb median | dehb median | p | verdict |",
            "|---|---:|---:|---:|---|",
            *noise,
            "",
        ]
    (out / "report.md").write_text("\n".join(lines))


def _with_random_target(problem: MFProblem, runs: Sequence[dict[str, Any]]) -> MFProblem:
    """The target is what random search at the max budget reaches with the whole budget
    (its median final regret), so "budget to target" is each optimizer's budget to
    match random search; without random runs, the problem's own target."""
    finals = [
        metrics.final(metrics.trace(problem, r["evaluations"]))
        for r in runs
        if r["problem"] == problem.name and r["optimizer"] == "random" and r["status"] == "ok"
    ]
    if not finals:
        return problem
    return dataclasses.replace(problem, target=metrics.median(finals))


def _standing(name: str, summary: dict[str, tuple[float, list[float]]]) -> str:
    def best(keys: list[str]) -> tuple[str, float]:
        if not keys:
            return "-", math.inf
        # fewest budget to target, then lowest median final regret
        key = min(keys, key=lambda k: (summary[k][0], metrics.median(summary[k][1])))
        return key, summary[key][0]

    ours, our_budget = best([k for k in summary if k.startswith(TUNEHUB)])
    peer, peer_budget = best([k for k in summary if not k.startswith(TUNEHUB)])
    verdict = "yes" if our_budget <= peer_budget and math.isfinite(our_budget) else "no"
    return f"| {name} | {ours} | {_fmt(our_budget)} | {peer} | {_fmt(peer_budget)} | {verdict} |"


def _plot(problem: MFProblem, traces: dict[str, list[metrics.Trace]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = [problem.total_budget * i / 60 for i in range(1, 61)]
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for optimizer, points in traces.items():
        medians = [metrics.median([metrics.at(p, g) for p in points]) for g in grid]
        xs = [g / problem.fidelity.max for g in grid]
        style = "-" if optimizer.startswith(TUNEHUB) else "--"
        axis.plot(
            xs, [m if math.isfinite(m) else math.nan for m in medians], style, label=optimizer
        )
    axis.axhline(problem.target, color="grey", linewidth=0.8, linestyle=":")
    if problem.optimum is not None:
        axis.set_yscale("symlog", linthresh=1e-3)  # regrets reach 0
        axis.set_ylim(bottom=0)
    else:
        axis.set_yscale("log")
    axis.set_xlabel("budget spent (evaluations at the max budget)")
    axis.set_ylabel("incumbent regret" if problem.optimum is not None else "incumbent loss")
    axis.set_title(f"{problem.name}: median over seeds")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
