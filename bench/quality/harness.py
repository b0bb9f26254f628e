"""Problems x optimizers x seeds, each run in a worker process, each against its own live server.

Other benches reuse this: ``run(problems, optimizers, seeds)`` gives
``Results``, and ``bench.quality.report.write_report`` writes them out.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import math
import multiprocessing
import os
import tempfile
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.quality.optimizers import Context, Optimizer, get_optimizer
from bench.quality.optimizers.tunehub_sdk import TunehubPolicy
from bench.quality.problem import Problem
from bench.quality.problems import get_problem
from bench.quality.trials import Trial

OK, ERROR, NOT_APPLICABLE, NOT_INSTALLED = "ok", "error", "n/a", "not installed"

# One thread per job: jobs run side by side, and a BLAS or torch pool per job
# would fight over the same cores and make timings depend on the job mix.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass
class Run:
    problem: str
    optimizer: str
    seed: int
    budget: int
    status: str
    message: str = ""
    trials: list[Trial] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "problem": self.problem,
            "optimizer": self.optimizer,
            "seed": self.seed,
            "budget": self.budget,
            "status": self.status,
            "message": self.message,
            "seconds": self.seconds,
            "trials": [t.to_json() for t in self.trials],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Run:
        """The inverse of ``to_json``; extra keys (the report's ``trace``) are ignored."""
        return cls(
            problem=data["problem"],
            optimizer=data["optimizer"],
            seed=int(data["seed"]),
            budget=int(data["budget"]),
            status=data["status"],
            message=data["message"],
            trials=[Trial.from_json(t) for t in data["trials"]],
            seconds=float(data["seconds"]),
        )


@dataclass
class Results:
    problems: list[Problem]
    optimizers: list[str]
    seeds: list[int]
    budget_scale: float
    workers: int
    runs: list[Run]
    seconds: float
    environment: dict[str, Any] | None = None
    """Where the runs ran, when read back from results.json; ``None``: this process."""
    sources: list[dict[str, str]] = field(default_factory=list)
    """The results.json files (path and command) a re-rendered report was read from."""

    def runs_of(self, problem: str, optimizer: str) -> list[Run]:
        return [r for r in self.runs if r.problem == problem and r.optimizer == optimizer]


@dataclass(frozen=True)
class Job:
    problem: Problem
    optimizer: Optimizer
    seed: int
    budget: int
    run_id: str
    """Unique per harness run, so study names never collide."""


def run(
    problems: Sequence[Problem | str],
    optimizers: Sequence[Optimizer | str],
    seeds: int | Sequence[int] = 5,
    *,
    budget_scale: float = 1.0,
    workers: int = 2,
    progress: Callable[[str], None] = print,
    journal: Path | None = None,
    resume: bool = False,
) -> Results:
    """Every (problem, optimizer, seed) once, ``workers`` at a time; never raises for a run.

    Seeds are the same numbers for every optimizer. Tunehub servers are started
    only when a Tunehub optimizer is asked for, on SQLite in a temporary folder:
    one single-process server per worker, which that worker alone talks to. A
    server's model work runs one ask at a time, and a shared multi-process server
    spreads connections unevenly (one process busy, the other idle), so sharing
    one made parallel workers of a model-based policy run nearly one at a time.
    Unless already set, this process's environment gets one BLAS/OpenMP thread,
    which the workers and the server inherit.

    Each finished run is appended to ``journal`` (one JSON line) as it ends, so
    an interrupted run loses nothing finished; with ``resume``, the journal's
    successful runs at the same budget are taken as done and not run again.
    """
    started = time.perf_counter()
    problem_list = [get_problem(p) if isinstance(p, str) else p for p in problems]
    optimizer_list = [get_optimizer(o) if isinstance(o, str) else o for o in optimizers]
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
    jobs, runs = _plan(problem_list, optimizer_list, seed_list, budget_scale)
    if resume and journal is not None:
        done = read_journal(journal)
        kept = [j for j in jobs if _key(j) not in done]
        runs.extend(done[_key(j)] for j in jobs if _key(j) in done)
        progress(f"resuming: {len(jobs) - len(kept)} runs read back from {journal}")
        jobs = kept
    for skipped in (r for r in runs if r.status != OK):
        progress(
            f"skip {skipped.problem} {skipped.optimizer} seed {skipped.seed}: "
            f"{skipped.status}: {skipped.message}"
        )
    with tempfile.TemporaryDirectory(prefix="tunehub-quality-") as tmp:
        needs_server = any(isinstance(j.optimizer, TunehubPolicy) for j in jobs)
        count = min(max(1, workers), len(jobs)) if needs_server else 0
        with _servers(Path(tmp), count, progress) as urls:
            runs.extend(_execute(jobs, workers, progress, journal, urls))
    grid = itertools.product(problem_list, optimizer_list, seed_list)
    order = {(p.name, o.name, s): i for i, (p, o, s) in enumerate(grid)}
    runs.sort(key=lambda r: order[(r.problem, r.optimizer, r.seed)])
    return Results(
        problems=problem_list,
        optimizers=[o.name for o in optimizer_list],
        seeds=seed_list,
        budget_scale=budget_scale,
        workers=workers,
        runs=runs,
        seconds=round(time.perf_counter() - started, 1),
    )


def _plan(
    problems: list[Problem], optimizers: list[Optimizer], seeds: list[int], budget_scale: float
) -> tuple[list[Job], list[Run]]:
    """Jobs to run, and the runs already settled (not installed, or n/a for a problem)."""
    run_id = uuid.uuid4().hex[:8]
    jobs: list[Job] = []
    settled: list[Run] = []
    missing = {o.name: o.missing() for o in optimizers}
    for problem in problems:
        budget = problem.scaled_budget(budget_scale)
        for optimizer in optimizers:
            reason = missing[optimizer.name]
            status = NOT_INSTALLED
            if reason is None:
                reason, status = optimizer.unsupported(problem), NOT_APPLICABLE
            for seed in seeds:
                if reason is not None:
                    settled.append(Run(problem.name, optimizer.name, seed, budget, status, reason))
                else:
                    jobs.append(Job(problem, optimizer, seed, budget, run_id))
    return jobs, settled


@contextlib.contextmanager
def _servers(tmp: Path, count: int, progress: Callable[[str], None]) -> Iterator[list[str | None]]:
    """``count`` Tunehub servers, each on its own database; one that fails to start is
    ``None``, and the runs of the worker bound to it fail."""
    if not count:
        yield []
        return
    from bench.server_process import tunehub_server

    with contextlib.ExitStack() as stack:
        urls: list[str | None] = []
        for index in range(count):
            try:
                url = stack.enter_context(
                    tunehub_server(
                        f"sqlite:///{tmp / f'tunehub-{index}.db'}",
                        log_path=tmp / f"server-{index}.log",
                    )
                )
                progress(f"tunehub server at {url}")
            except Exception as error:
                url = None
                progress(f"tunehub server did not start: {error}")
            urls.append(url)
        yield urls


def _key(job: Job) -> tuple[str, str, int, int]:
    return (job.problem.name, job.optimizer.name, job.seed, job.budget)


def read_journal(path: Path) -> dict[tuple[str, str, int, int], Run]:
    """The successful runs a journal holds, the last of each (problem, optimizer, seed, budget);
    a line cut short by an interruption is skipped. A ``.jsonl.gz`` is read compressed."""
    out: dict[tuple[str, str, int, int], Run] = {}
    if not path.exists():
        return out
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode()
    for line in text.splitlines():
        try:
            run = Run.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError):
            continue
        if run.status == OK:
            out[(run.problem, run.optimizer, run.seed, run.budget)] = run
    return out


def _execute(
    jobs: list[Job],
    workers: int,
    progress: Callable[[str], None],
    journal: Path | None = None,
    urls: Sequence[str | None] = (),
) -> list[Run]:
    runs: list[Run] = []
    if not jobs:
        return runs
    with _pool(workers, len(jobs), urls) as pool:
        futures: dict[Future[Run], Job] = {pool.submit(run_job, job): job for job in jobs}
        for done, future in enumerate(as_completed(futures), start=1):
            job = futures[future]
            try:
                result = future.result()
            except Exception as error:  # the worker process itself died
                result = _settle(job, ERROR, _one_line(error))
            runs.append(result)
            if journal is not None:
                with journal.open("a") as log:
                    log.write(json.dumps(finite(result.to_json())) + "\n")
            progress(f"[{done}/{len(jobs)}] {_describe(result)}")
    return runs


def _pool(workers: int, tasks: int, urls: Sequence[str | None]) -> ProcessPoolExecutor:
    """Up to ``workers`` processes; with ``urls``, each bound to one of them for its lifetime."""
    context = multiprocessing.get_context("spawn")  # torch and forked threads do not mix
    servers = context.Queue()
    for url in urls:
        servers.put(url)
    return ProcessPoolExecutor(
        max_workers=min(max(1, workers), max(1, tasks)),
        mp_context=context,
        initializer=_bind_server,
        initargs=(servers, bool(urls)),
    )


_bound_url: str | None = None


def bound_server() -> str | None:
    """The server this worker process talks to (``_bind_server``)."""
    return _bound_url


def _bind_server(servers: Any, any_server: bool) -> None:
    """Pool initializer: take one server of the queue for this worker's lifetime."""
    global _bound_url
    _bound_url = servers.get(timeout=60) if any_server else None


def run_job(job: Job) -> Run:
    """One run in a worker process; its exception becomes the run's error."""
    started = time.perf_counter()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="quality-run-") as workdir,
            warnings.catch_warnings(),
        ):
            # Peers warn per trial (fits that needed jitter, deprecations); the
            # progress lines would drown. Failures still raise.
            warnings.simplefilter("ignore")
            context = Context(bound_server(), job.run_id, Path(workdir))
            trials = job.optimizer.optimize(job.problem, job.seed, job.budget, context)
    except ImportError as error:
        return _settle(job, NOT_INSTALLED, _one_line(error), started=started)
    except Exception as error:
        return _settle(job, ERROR, _error_text(error), started=started)
    if len(trials) != job.budget:
        message = f"returned {len(trials)} trials for a budget of {job.budget}"
        return _settle(job, ERROR, message, trials, started=started)
    return _settle(job, OK, "", trials, started=started)


def _settle(
    job: Job,
    status: str,
    message: str,
    trials: list[Trial] | None = None,
    *,
    started: float | None = None,
) -> Run:
    # Rounded here, not when written, so results.json read back gives the same run.
    seconds = round(time.perf_counter() - started, 3) if started is not None else 0.0
    return Run(
        job.problem.name,
        job.optimizer.name,
        job.seed,
        job.budget,
        status,
        message,
        trials or [],
        seconds,
    )


def finite(value: Any) -> Any:
    """NaN and infinities as null: JSON has no spelling for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _describe(run: Run) -> str:
    head = f"{run.problem} {run.optimizer} seed {run.seed}: {run.status}"
    if run.status != OK:
        return f"{head}: {run.message.splitlines()[0] if run.message else ''}"
    return f"{head}, {len(run.trials)} trials in {run.seconds:.1f} s"


def _one_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0]


def _error_text(error: BaseException) -> str:
    """The exception line first (the table shows it), then the end of the traceback."""
    lines = traceback.format_exception(error)
    return _one_line(error) + "\n" + "".join(lines)[-4000:]
