"""Concurrent ask+tell clients for Tunehub and for Optuna's RDB storage.

Both sides run the same loop in the same way: ``clients`` independent clients
(each with its own ``tunehub.Client`` or its own ``RDBStorage``), started as
threads of this process or as separate processes, all released together after
their setup; completed ask+tell pairs are counted over a fixed wall time after
a warm-up. Processes exist because threads share one GIL: Optuna does all its
work (sampling, SQLAlchemy, SQLite) in the client, so threads cap it at one
core, while Tunehub's clients only format HTTP requests.
"""

from __future__ import annotations

import math
import multiprocessing
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Kind = Literal["tunehub", "optuna"]
Mode = Literal["threads", "processes"]

SQLITE_TIMEOUT_SECONDS = 60.0
"""Optuna's SQLite busy timeout: like Tunehub's, long enough that contention waits, not fails."""


@dataclass(frozen=True)
class Target:
    """What a client talks to: a Tunehub URL or an Optuna storage URL, and a study name."""

    kind: Kind
    address: str
    study: str
    wal: bool = False
    """Optuna only: give its SQLite the pragmas Tunehub's server uses (see ``optuna_storage``)."""


@dataclass(frozen=True)
class LoadResult:
    kind: Kind
    mode: Mode
    clients: int
    seconds: float
    trials: int

    @property
    def trials_per_second(self) -> float:
        return self.trials / self.seconds if self.seconds > 0 else 0.0


def objective(params: Mapping[str, Any]) -> float:
    """A cheap, deterministic objective: the benchmark measures the service, not training."""
    return (
        (math.log10(float(params["lr"])) + 3.0) ** 2
        + float(params["dropout"])
        + abs(int(params["layers"]) - 4) / 4
        + abs(math.log2(int(params["units"])) - 7) / 3
        + (0.0 if params["optimizer"] == "adam" else 0.5)
    )


def tunehub_space() -> dict[str, Any]:
    from tunehub import Categorical, Float, Int

    return {
        "lr": Float(1e-5, 1e-1, log=True),
        "dropout": Float(0.0, 0.5),
        "layers": Int(1, 8),
        "units": Int(16, 1024, log=True),
        "optimizer": Categorical(["adam", "sgd", "rmsprop"]),
    }


def optuna_distributions() -> dict[str, Any]:
    """The same space as ``tunehub_space`` in Optuna's terms."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    return {
        "lr": FloatDistribution(1e-5, 1e-1, log=True),
        "dropout": FloatDistribution(0.0, 0.5),
        "layers": IntDistribution(1, 8),
        "units": IntDistribution(16, 1024, log=True),
        "optimizer": CategoricalDistribution(["adam", "sgd", "rmsprop"]),
    }


def optuna_storage(url: str, *, wal: bool = False) -> Any:
    """Optuna's RDB storage as users create it; ``wal`` adds Tunehub's SQLite pragmas.

    Optuna leaves SQLite in its defaults (rollback journal, ``synchronous=FULL``),
    which costs a few fsyncs per commit and Optuna commits about ten times per
    ask+tell. ``wal`` runs it with WAL and ``synchronous=NORMAL``, as Tunehub's
    server does, so the comparison can separate durability settings from design.
    """
    import optuna
    from sqlalchemy import event

    storage = optuna.storages.RDBStorage(
        url, engine_kwargs={"connect_args": {"timeout": SQLITE_TIMEOUT_SECONDS}}
    )
    if wal:
        event.listen(storage.engine, "connect", _wal_pragmas)
        storage.engine.dispose()  # reconnect with the pragmas
    return storage


def _wal_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


Step = Callable[[], None]


def make_client(target: Target) -> tuple[Step, Callable[[], None]]:
    """One client's ``(ask+tell step, close)``."""
    if target.kind == "tunehub":
        import tunehub

        client = tunehub.Client(target.address, max_retry_seconds=10.0)
        study = client.get_study(target.study)

        def tunehub_step() -> None:
            trial = study.ask()
            trial.tell(objective(trial.params))

        return tunehub_step, client.close

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = optuna_distributions()
    optuna_study = optuna.load_study(
        study_name=target.study,
        storage=optuna_storage(target.address, wal=target.wal),
        sampler=optuna.samplers.RandomSampler(),
    )

    def optuna_step() -> None:
        trial = optuna_study.ask(distributions)
        optuna_study.tell(trial, objective(trial.params))

    return optuna_step, lambda: None


class _Barrier(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...
    def abort(self) -> None: ...


class _Event(Protocol):
    def is_set(self) -> bool: ...
    def set(self) -> None: ...


class _Counts(Protocol):
    def __getitem__(self, index: int) -> int: ...
    def __setitem__(self, index: int, value: int) -> None: ...
    def __len__(self) -> int: ...


def _client_loop(
    target: Target, index: int, counts: _Counts, ready: _Barrier, stop: _Event
) -> None:
    """Set up, wait for the others, then ask+tell until told to stop."""
    try:
        step, close = make_client(target)
    except BaseException:
        ready.abort()
        raise
    try:
        ready.wait()
        while not stop.is_set():
            step()
            counts[index] += 1
    except BaseException:
        stop.set()
        raise
    finally:
        close()


def _process_main(
    target: Target, index: int, counts: _Counts, ready: _Barrier, stop: _Event
) -> None:
    try:
        _client_loop(target, index, counts, ready, stop)
    except threading.BrokenBarrierError:
        sys.exit(1)
    except BaseException:
        traceback.print_exc()
        sys.exit(1)


def run_load(
    target: Target, *, clients: int, warmup: float, seconds: float, mode: Mode
) -> LoadResult:
    """Run ``clients`` concurrent ask+tell loops; count the pairs done in ``seconds``."""
    if mode == "threads":
        return _run_threads(target, clients, warmup, seconds)
    return _run_processes(target, clients, warmup, seconds)


def _measure(
    counts: _Counts, ready: _Barrier, stop: _Event, warmup: float, seconds: float
) -> tuple[int, float]:
    try:
        ready.wait(timeout=300)
    except threading.BrokenBarrierError:  # a client failed to start: its error is raised
        stop.set()
        return 0, 0.0
    try:
        time.sleep(warmup)
        before, start = sum(counts[i] for i in range(len(counts))), time.perf_counter()
        time.sleep(seconds)
        after, end = sum(counts[i] for i in range(len(counts))), time.perf_counter()
    finally:
        stop.set()
    return after - before, end - start


def _run_threads(target: Target, clients: int, warmup: float, seconds: float) -> LoadResult:
    counts = [0] * clients
    ready = threading.Barrier(clients + 1)
    stop = threading.Event()
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            _client_loop(target, index, counts, ready, stop)
        except threading.BrokenBarrierError:
            pass
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    try:
        trials, elapsed = _measure(counts, ready, stop, warmup, seconds)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    if errors:
        raise RuntimeError(f"a {target.kind} client failed") from errors[0]
    return LoadResult(target.kind, "threads", clients, elapsed, trials)


def _run_processes(target: Target, clients: int, warmup: float, seconds: float) -> LoadResult:
    # spawn, not fork: children must not inherit this process's threads and sockets.
    ctx = multiprocessing.get_context("spawn")
    counts = ctx.Array("q", clients, lock=False)
    ready = ctx.Barrier(clients + 1)
    stop = ctx.Event()
    processes = [
        ctx.Process(target=_process_main, args=(target, i, counts, ready, stop), daemon=True)
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    try:
        trials, elapsed = _measure(counts, ready, stop, warmup, seconds)
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} {target.kind} client processes failed (see stderr)")
    return LoadResult(target.kind, "processes", clients, elapsed, trials)
