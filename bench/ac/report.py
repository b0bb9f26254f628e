"""bench/ac's report: test-set PAR10 per tuner, and CASH errors per searcher."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.ac.solver_problem import CUTOFF, PAR
from bench.spread import quartiles

AC_OURS = ("tunehub-ac-race", "tunehub-ac-band")
CASH_OURS = "tunehub-rising-bandit"


def _by(runs: Sequence[dict[str, Any]], problem: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        if run["status"] == "ok" and run["problem"] == problem:
            out.setdefault(run["optimizer"], []).append(run)
    return out


def solver_table(runs: Sequence[dict[str, Any]]) -> tuple[list[str], list[str]]:
    by_tuner = _by(runs, "solvers")
    medians = {t: statistics.median(r["test_par10"] for r in rs) for t, rs in by_tuner.items()}
    lines = [
        "| tuner | seeds | test PAR10, median (s) | IQR | mean | test timeouts | "
        "solver runs | configurations | wall (s) |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for tuner in sorted(by_tuner, key=lambda t: medians[t]):
        rs = by_tuner[tuner]
        q1, q2, q3 = quartiles([r["test_par10"] for r in rs])
        mean = statistics.mean(r["test_par10"] for r in rs)
        timeouts = sum(1 for r in rs for s in r["test_scores"] if s >= PAR * CUTOFF)
        tests = sum(len(r["test_scores"]) for r in rs)
        lines.append(
            f"| {tuner} | {len(rs)} | {q2:.3f} | {q1:.3f} to {q3:.3f} | {mean:.3f} | "
            f"{timeouts}/{tests} | {statistics.median(r['runs'] for r in rs):.0f} | "
            f"{statistics.median(r['configurations'] for r in rs):.0f} | "
            f"{statistics.median(r['seconds'] for r in rs):.0f} |"
        )
    verdicts = []
    ours = [t for t in AC_OURS if t in medians]
    if ours:
        best = min(ours, key=lambda t: medians[t])
        for peer in ("smac-ac", "random", "default"):
            if peer in medians:
                relation = "<=" if medians[best] <= medians[peer] else ">"
                verdicts.append(
                    f"- solvers: {best} {medians[best]:.3f} s {relation} {peer} "
                    f"{medians[peer]:.3f} s (median test PAR10)"
                )
    return lines, verdicts


def cash_table(runs: Sequence[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """One block per dataset and trial budget (runs of one budget compare)."""
    cash = [r for r in runs if r["problem"].startswith("cash-")]
    groups = sorted({(r["problem"], len(r["errors"])) for r in cash})
    lines = [
        "| dataset | trials | searcher | seeds | best CV error, median | IQR | mean | "
        "test error, median | trials per model, mean of seeds |",
        "|---|---:|---|---:|---:|---|---:|---:|---|",
    ]
    verdicts = []
    for problem, trials in groups:
        by_searcher = _by([r for r in cash if len(r["errors"]) == trials], problem)
        medians = {s: statistics.median(r["cv_error"] for r in rs) for s, rs in by_searcher.items()}
        means = {s: statistics.mean(r["cv_error"] for r in rs) for s, rs in by_searcher.items()}
        for searcher in sorted(by_searcher, key=lambda s: (medians[s], means[s])):
            rs = by_searcher[searcher]
            q1, q2, q3 = quartiles([r["cv_error"] for r in rs])
            models: dict[str, int] = {}
            for r in rs:
                for m in r["models"]:
                    models[m] = models.get(m, 0) + 1
            shares = ", ".join(f"{m} {n / len(rs):.0f}" for m, n in sorted(models.items()))
            test = statistics.median(r["test_error"] for r in rs)
            lines.append(
                f"| {problem.removeprefix('cash-')} | {trials} | {searcher} | {len(rs)} | "
                f"{q2:.4f} | {q1:.4f} to {q3:.4f} | {means[searcher]:.4f} | {test:.4f} | "
                f"{shares} |"
            )
        if CASH_OURS in medians and "tunehub-gp" in medians:
            ours, gp = medians[CASH_OURS], medians["tunehub-gp"]
            relation = "<=" if ours <= gp else ">"
            verdicts.append(
                f"- {problem}, {trials} trials: rising-bandit {ours:.4f} {relation} gp "
                f"{gp:.4f} (median best CV error; means {means[CASH_OURS]:.4f} and "
                f"{means['tunehub-gp']:.4f})"
            )
    return lines, verdicts


def write_report(runs: Sequence[dict[str, Any]], out: Path) -> str:
    solver_lines, solver_verdicts = solver_table(runs)
    cash_lines, cash_verdicts = cash_table(runs)
    sections = [
        ("Solver configuration (test-set PAR10, CPU seconds)", solver_lines),
        ("CASH (3-fold CV error on the train split)", cash_lines),
        ("Verdicts", solver_verdicts + cash_verdicts),
    ]
    text = "\n".join(line for title, body in sections for line in (f"## {title}", "", *body, ""))
    (out / "report.md").write_text(text)
    (out / "summary.json").write_text(
        json.dumps({"verdicts": solver_verdicts + cash_verdicts}, indent=2)
    )
    return text
