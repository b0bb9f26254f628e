"""Several results.json files as one ``Results``, so runs done apart are reported together.

Seeds can be added to a finished run, or one optimizer rerun, without
repeating the rest: ``python -m bench.quality --report-from A/results.json
B/results.json --out DIR``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.quality.harness import OK, Results, Run, finite, read_journal
from bench.quality.problem import Problem
from bench.quality.problems import get_problem
from bench.quality.report import from_json


def read_results(path: Path) -> Results:
    """One results.json (or .json.gz), or a run's journal (runs.jsonl, finished or not);
    its ``sources`` name the file itself unless it was merged already."""
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        return _from_journal(path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    data = json.loads(raw)
    results = from_json(data)
    if not results.sources:
        results.sources = [{"path": str(path), "command": data.get("command", "")}]
    return results


def _from_journal(path: Path) -> Results:
    """The successful runs of a journal, at budget scale 1 (``merge`` refuses runs of
    another scale: their budgets would not compare)."""
    runs = list(read_journal(path).values())
    if not runs:
        raise ValueError(f"{path}: no finished run")
    problems = {r.problem: get_problem(r.problem) for r in runs}
    return Results(
        problems=list(problems.values()),
        optimizers=list(dict.fromkeys(r.optimizer for r in runs)),
        seeds=sorted({r.seed for r in runs}),
        budget_scale=1.0,
        workers=0,
        runs=runs,
        seconds=round(sum(r.seconds for r in runs), 1),
        sources=[{"path": str(path), "command": "journal"}],
    )


def load_results(paths: Sequence[Path], progress: Callable[[str], None] = print) -> Results:
    """The files' runs merged; see ``merge``.

    ``PATH@LABEL`` renames the Tunehub optimizers of that file to ``tunehub-<policy>@LABEL``,
    so two versions of a policy's code, run apart under the same name, are compared side by
    side.
    """
    parts = []
    for path in paths:
        file, sep, label = str(path).rpartition("@") if "@" in path.name else ("", "", "")
        results = read_results(Path(file) if sep else path)
        if sep:
            results = labelled(results, label)
        parts.append(results)
    return merge(parts, [str(p) for p in paths], progress)


def labelled(results: Results, label: str) -> Results:
    """``results`` with every ``tunehub-*`` optimizer renamed ``<name>@<label>``."""

    def rename(name: str) -> str:
        return f"{name}@{label}" if name.startswith("tunehub-") else name

    for run in results.runs:
        run.optimizer = rename(run.optimizer)
    results.optimizers = [rename(o) for o in results.optimizers]
    return results


def merge(
    parts: Sequence[Results], names: Sequence[str], progress: Callable[[str], None] = print
) -> Results:
    """One ``Results`` from several, later parts winning where runs coincide.

    Problems, optimizers and seeds are unions in the order first seen; runs are
    concatenated, and a (problem, optimizer, seed) seen again replaces the
    earlier run. Seconds add up (to 0.1 s, as the harness records them);
    workers and the environment are the first part's. Parts at different
    budget scales are refused: their budgets, and so their scores, would not
    compare.
    """
    if not parts:
        raise ValueError("no results to merge")
    first = parts[0]
    scales = {name: part.budget_scale for name, part in zip(names, parts)}
    if len(set(scales.values())) > 1:
        listed = ", ".join(f"{name}: {scale:g}" for name, scale in scales.items())
        raise ValueError(f"results at different budget scales cannot be merged ({listed})")
    problems: dict[str, Problem] = {}
    optimizers: dict[str, None] = {}
    seeds: dict[int, None] = {}
    runs: dict[tuple[str, str, int], tuple[Run, str]] = {}
    for name, part in zip(names, parts):
        for problem in part.problems:
            problems.setdefault(problem.name, problem)
        optimizers.update(dict.fromkeys(part.optimizers))
        seeds.update(dict.fromkeys(part.seeds))
        for run in part.runs:
            key = (run.problem, run.optimizer, run.seed)
            if key in runs:
                progress(
                    f"{run.problem} {run.optimizer} seed {run.seed}: "
                    f"the run from {name} replaces the one from {runs.pop(key)[1]}"
                )
            runs[key] = (run, name)
    merged = Results(
        problems=list(problems.values()),
        optimizers=list(optimizers),
        seeds=list(seeds),
        budget_scale=first.budget_scale,
        workers=first.workers,
        runs=[run for run, _ in runs.values()],
        seconds=round(sum(part.seconds for part in parts), 1),
        environment=first.environment,
        sources=[source for part in parts for source in part.sources],
    )
    _check_budgets(merged)
    if any(part.environment != first.environment for part in parts[1:]):
        progress(f"environments differ; results.json records the first, from {names[0]}")
    return merged


def _check_budgets(results: Results) -> None:
    """Refuse runs whose budget this checkout's problem no longer gives: scores would misalign."""
    budgets = {p.name: p.scaled_budget(results.budget_scale) for p in results.problems}
    for run in results.runs:
        expected = budgets.get(run.problem)
        if expected is not None and run.budget != expected:
            raise ValueError(
                f"{run.problem} {run.optimizer} seed {run.seed} ran with a budget of "
                f"{run.budget}, but {run.problem} now has {expected} at this budget scale"
            )


def archive(results: Results, path: Path) -> None:
    """The successful runs as a gzip journal, parameters dropped and times kept to the
    millisecond: everything a score is computed from, for storing results in the repository."""
    lines = []
    for run in results.runs:
        if run.status != OK:
            continue
        data = finite(run.to_json())
        data["seconds"] = round(run.seconds, 3)
        for trial in data["trials"]:
            trial["params"] = {}
            trial["seconds"] = round(trial["seconds"], 3)
        lines.append(json.dumps(data, separators=(",", ":")))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
