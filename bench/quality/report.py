"""Writing a harness run out: results.json, table.md and one <problem>.png each.

``from_json`` reads results.json back, so a report can be drawn again without rerunning.
"""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.quality.harness import Results, Run, finite
from bench.quality.metrics import FRACTIONS
from bench.quality.plots import plot_problem
from bench.quality.problems import get_problem
from bench.quality.split import HALVES
from bench.quality.standings import markdown as standings_markdown
from bench.quality.standings import plot_profiles
from bench.quality.summary import ProblemSummary, summarize
from bench.quality.table import markdown

SUBJECT = "tunehub-gp"
"""The optimizer suite.md judges against every other one."""

PACKAGES = (
    "tunehub",
    "optuna",
    "hyperopt",
    "ax-platform",
    "smac",
    "cmaes",
    "hebo",
    "coco-experiment",
    "botorch",
    "torch",
    "scikit-learn",
    "numpy",
)


def write_report(results: Results, out_dir: Path) -> dict[str, Path]:
    """Write the three kinds of output into ``out_dir``; returns their paths by kind."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = summarize(results)
    paths = {"json": out_dir / "results.json", "table": out_dir / "table.md"}
    paths["json"].write_text(json.dumps(finite(to_json(results, summaries)), indent=1) + "\n")
    paths["table"].write_text(markdown(results, summaries))
    paths["suite"] = out_dir / "suite.md"
    paths["suite"].write_text(standings_markdown(summaries, results.optimizers, SUBJECT))
    for half in HALVES:
        if any(s.problem.half == half for s in summaries):
            paths[f"profiles-{half}"] = out_dir / f"profiles-{half}.png"
            plot_profiles(summaries, results.optimizers, half, str(paths[f"profiles-{half}"]))
    for summary in summaries:
        paths[summary.problem.name] = out_dir / f"{summary.problem.name}.png"
        plot_problem(summary, paths[summary.problem.name])
    return paths


def to_json(results: Results, summaries: list[ProblemSummary]) -> dict[str, Any]:
    traces = {
        (s.problem.name, r.optimizer, r.seed): t
        for s in summaries
        for e in s.entries
        for r, t in zip(e.ok_runs, e.traces)
    }
    runs = []
    for run in results.runs:
        item = run.to_json()
        item["trace"] = traces.get((run.problem, run.optimizer, run.seed))
        runs.append(item)
    out: dict[str, Any] = {
        "benchmark": "quality",
        "command": " ".join(["python", "-m", "bench.quality", *sys.argv[1:]]),
        "environment": results.environment or _environment(),
        "settings": {
            "problems": [p.name for p in results.problems],
            "optimizers": results.optimizers,
            "seeds": results.seeds,
            "budget_scale": results.budget_scale,
            "workers": results.workers,
            "fractions": list(FRACTIONS),
        },
        "elapsed_seconds": results.seconds,
        "summary": {s.problem.name: _summary_json(s) for s in summaries},
        "runs": runs,
    }
    if results.sources:
        out["sources"] = results.sources
    return out


def from_json(data: dict[str, Any]) -> Results:
    """The ``Results`` that ``to_json`` wrote; summaries and traces are recomputed from runs.

    Problems are looked up by name, so a report drawn again scores with the
    problem definitions of this checkout.
    """
    settings = data["settings"]
    return Results(
        problems=[get_problem(name) for name in settings["problems"]],
        optimizers=list(settings["optimizers"]),
        seeds=[int(seed) for seed in settings["seeds"]],
        budget_scale=float(settings["budget_scale"]),
        workers=int(settings["workers"]),
        runs=[Run.from_json(run) for run in data["runs"]],
        seconds=float(data["elapsed_seconds"]),
        environment=data.get("environment"),
        sources=list(data.get("sources", [])),
    )


def _summary_json(summary: ProblemSummary) -> dict[str, Any]:
    problem = summary.problem
    best = summary.best()
    return {
        "description": problem.description,
        "objectives": list(problem.objectives),
        "constraints": [c.spec() for c in problem.constraints],
        "budget": summary.budget,
        "metric": summary.scoring.metric,
        "label": summary.scoring.label or summary.scoring.metric,
        "higher_is_better": summary.scoring.higher_is_better,
        "reference": summary.scoring.reference,
        "known_optimum": problem.optimum,
        "penalty": problem.penalty,
        "reference_point": problem.reference_point,
        "max_hypervolume": problem.max_hypervolume,
        "note": summary.scoring.note,
        "best": best.optimizer if best else None,
        "optimizers": {
            e.optimizer: {
                "ok_runs": len(e.ok_runs),
                "runs": len(e.runs),
                "note": e.note,
                "at_fraction": {f"{f:g}": s.to_json() for f, s in zip(FRACTIONS, e.spreads)},
                "final_log10_hypervolume_gap": summary.final_log10_gap(e),
                "median_seconds": _median([r.seconds for r in e.ok_runs]),
            }
            for e in summary.entries
        },
    }


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _environment() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": _cpus(),
        "packages": versions,
    }


def _cpus() -> int | None:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
