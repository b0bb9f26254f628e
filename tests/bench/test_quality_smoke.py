"""The quality benchmark runs end to end: every run scored, table rows and plots written.

A smoke test only: a tiny budget and two seeds check the harness, the server
path and the peers' adapters, never how well anything optimizes.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.quality.merge import load_results
from bench.quality.report import write_report
from tests.support.bench import ROOT, bench_process, run_bench

PROBLEMS = ("branin", "constrained", "branincurrin")
OPTIMIZERS = ("tunehub-sobol", "random", "optuna-tpe")
SEEDS = 2
BUDGET_SCALE = 0.2
BUDGET = 10  # each problem's budget of 50, scaled


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small run's output folder, shared: the report tests below only read it."""
    out = tmp_path_factory.mktemp("quality")
    run_bench(
        "quality",
        "--problems",
        ",".join(PROBLEMS),
        "--half",  # the classic problems are all in the development half
        "development",
        "--families",
        "classic,synthetic",
        "--optimizers",
        ",".join(OPTIMIZERS),
        "--seeds",
        str(SEEDS),
        "--budget-scale",
        str(BUDGET_SCALE),
        "--out",
        str(out),
    )
    return out


def test_small_run_writes_json_table_and_plots(smoke_run: Path) -> None:
    results = json.loads((smoke_run / "results.json").read_text())
    runs = {(r["problem"], r["optimizer"], r["seed"]): r for r in results["runs"]}
    expected = {(p, o, s) for p in PROBLEMS for o in OPTIMIZERS for s in range(SEEDS)}
    assert set(runs) == expected
    for key, run in runs.items():
        assert run["status"] == "ok", (key, run["message"])
        assert len(run["trials"]) == BUDGET, key
        assert len(run["trace"]) == BUDGET, key
    for trial in runs[("constrained", "random", 0)]["trials"]:
        assert set(trial["outcome"]) == {"f", "c1"}
    for trial in runs[("branincurrin", "optuna-tpe", 0)]["trials"]:
        assert set(trial["outcome"]) == {"f1", "f2"}
    assert results["summary"]["branincurrin"]["metric"] == "hypervolume"

    table = (smoke_run / "table.md").read_text()
    for problem in PROBLEMS:
        for optimizer in OPTIMIZERS:
            assert f"| {problem} (budget {BUDGET}) | {optimizer} |" in table
        assert f"**{problem}**" in table
        assert (smoke_run / f"{problem}.png").stat().st_size > 0
    suite = (smoke_run / "suite.md").read_text()  # the classic problems are all development
    assert "## development, after 20 trials" in suite and "## held-out" not in suite
    assert (smoke_run / "profiles-development.png").stat().st_size > 0


def test_report_drawn_again_from_results_json_is_identical(smoke_run: Path, tmp_path: Path) -> None:
    results = load_results([smoke_run / "results.json"])
    write_report(results, tmp_path)

    assert (tmp_path / "table.md").read_bytes() == (smoke_run / "table.md").read_bytes()
    before = json.loads((smoke_run / "results.json").read_text())
    after = json.loads((tmp_path / "results.json").read_text())
    assert after["runs"] == before["runs"]
    assert after["summary"] == before["summary"]
    assert after["environment"] == before["environment"]
    assert after["sources"] == [
        {"path": str(smoke_run / "results.json"), "command": before["command"]}
    ]


def _part(results: dict[str, Any], keep: set[tuple[str, int]], seeds: list[int]) -> dict[str, Any]:
    """A copy of ``results`` with only the runs of the given (optimizer, seed) pairs."""
    part = copy.deepcopy(results)
    part["runs"] = [r for r in part["runs"] if (r["optimizer"], r["seed"]) in keep]
    part["settings"]["optimizers"] = list(dict.fromkeys(o for o, _ in sorted(keep)))
    part["settings"]["seeds"] = seeds
    return part


def test_report_from_two_files_merges_their_runs(smoke_run: Path, tmp_path: Path) -> None:
    results = json.loads((smoke_run / "results.json").read_text())
    # A: random and optuna-tpe at seed 0. B: random at seed 1, and a rerun of
    # branin random seed 0 that failed, which replaces A's.
    first = _part(results, {("random", 0), ("optuna-tpe", 0)}, [0])
    second = _part(results, {("random", 0), ("random", 1)}, [1])
    for run in second["runs"]:
        if (run["problem"], run["seed"]) == ("branin", 0):
            run.update(status="error", message="RuntimeError: rerun failed", trials=[])
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path, part in zip(paths, (first, second)):
        path.write_text(json.dumps(part))

    done = run_bench("quality", "--report-from", *map(str, paths), "--out", str(tmp_path / "out"))

    assert f"branin random seed 0: the run from {paths[1]} replaces" in done.stdout
    merged = json.loads((tmp_path / "out" / "results.json").read_text())
    assert merged["settings"]["optimizers"] == ["optuna-tpe", "random"]
    assert merged["settings"]["seeds"] == [0, 1]
    keys = [(r["problem"], r["optimizer"], r["seed"]) for r in merged["runs"]]
    assert len(keys) == len(set(keys)) == len(PROBLEMS) * 3
    assert merged["elapsed_seconds"] == round(2 * results["elapsed_seconds"], 1)
    table = (tmp_path / "out" / "table.md").read_text()
    assert f"| branin (budget {BUDGET}) | random |" in table
    assert "| 1/2 | 1 error: RuntimeError: rerun failed |" in table
    assert "(see ok runs per row)" in table
    assert "| 2/2 |  |" in table and "| 1/1 |  |" in table

    second["settings"]["budget_scale"] = 2 * BUDGET_SCALE
    paths[1].write_text(json.dumps(second))
    with pytest.raises(ValueError, match="different budget scales"):
        load_results(paths)


def test_an_interrupted_run_resumes_from_its_journal_without_rerunning_finished_runs(
    tmp_path: Path,
) -> None:
    common = ("--problems", "branin", "--optimizers", "random", "--budget-scale", "0.1")
    run_bench("quality", *common, "--seeds", "2", "--out", str(tmp_path))
    journal = (tmp_path / "runs.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["seed"] for line in journal) == [0, 1]
    with (tmp_path / "runs.jsonl").open("a") as log:
        log.write('{"problem": "branin", "optim')  # a line cut short by a kill

    again = run_bench("quality", *common, "--seeds", "3", "--out", str(tmp_path), "--resume")
    assert "resuming: 2 runs read back" in again.stdout
    assert "[1/1] branin random seed 2: ok" in again.stdout
    runs = {r["seed"]: r for r in json.loads((tmp_path / "results.json").read_text())["runs"]}
    assert sorted(runs) == [0, 1, 2]
    first = [json.loads(line) for line in journal]
    assert [runs[r["seed"]]["trials"] for r in first] == [r["trials"] for r in first]

    # a journal at a reduced budget is not reported as if it were the full one
    refused = bench_process("quality", "--report-from", str(tmp_path / "runs.jsonl"), timeout=120)
    assert refused.returncode == 2
    assert "ran with a budget of 5, but branin now has 50" in refused.stderr


def test_a_journal_of_an_unfinished_run_can_be_reported_and_archived(tmp_path: Path) -> None:
    run = tmp_path / "run"
    common = ("--problems", "branin", "--optimizers", "random", "--seeds", "2")
    run_bench("quality", *common, "--out", str(run))
    (run / "results.json").unlink()  # as if the run had been stopped
    archived = tmp_path / "kept.jsonl.gz"
    report = tmp_path / "report"
    done = run_bench(
        "quality",
        "--report-from",
        str(run / "runs.jsonl"),
        "--archive",
        str(archived),
        "--out",
        str(report),
    )
    assert f"archived 2 runs in {archived}" in done.stdout
    table = (report / "table.md").read_text()
    assert "| branin (budget 50) | random |" in table and "| 2/2 |" in table
    run_bench("quality", "--report-from", str(archived), "--out", str(tmp_path / "again"))
    assert (tmp_path / "again" / "suite.md").read_text() == (report / "suite.md").read_text()
    assert archived.stat().st_size < (run / "runs.jsonl").stat().st_size / 2


def test_each_worker_is_bound_to_a_server_of_its_own(tmp_path: Path) -> None:
    """Parallel workers of a model-based policy must not queue on one server's model lock."""
    import httpx

    from bench.quality.harness import _pool, _servers, bound_server

    with _servers(tmp_path, 2, lambda line: None) as urls:
        assert len(set(urls)) == 2 and None not in urls
        for url in urls:
            assert httpx.get(f"{url}/api/v1/health").status_code == 200
        with _pool(2, 2, urls) as pool:
            # two workers started, each holding its server for its lifetime
            pids_and_urls = set(pool.map(_pid_and, [bound_server] * 16))
    assert {url for _, url in pids_and_urls} <= set(urls)
    by_pid: dict[int, set[str | None]] = {}
    for pid, url in pids_and_urls:
        by_pid.setdefault(pid, set()).add(url)
    assert all(len(held) == 1 for held in by_pid.values())
    assert len({next(iter(held)) for held in by_pid.values()}) == len(by_pid)


def _pid_and(read: Any) -> tuple[int, Any]:
    import os

    return os.getpid(), read()


def test_a_killed_run_stops_its_servers(tmp_path: Path) -> None:
    """SIGTERM unwinds the run: its servers stop with it instead of running on orphaned."""
    import os
    import signal
    import time

    import httpx

    args = ["--problems", "branin", "--optimizers", "tunehub-gp", "--budget-scale", "0.2"]
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.quality", *args, "--seeds", "1", "--out", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = ""
        for line in process.stdout:
            if line.startswith("tunehub server at "):
                url = line.split()[-1]
                break
        assert url, "no server was started"
        assert httpx.get(f"{url}/api/v1/health").status_code == 200
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=60) == 128 + signal.SIGTERM
        time.sleep(0.5)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/api/v1/health", timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
