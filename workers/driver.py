"""The worker loop: ask for as many trials as the cluster has room for, run each as a
Ray task, heartbeat them, stop the ones a policy stops, and tell every outcome.

The server proposes; Ray places. Trials of a study take the study's resources
(``num_cpus``, ``num_gpus``), so Ray gives a GPU trial its own device
(``CUDA_VISIBLE_DEVICES``) and a trial that does not fit waits for room: the
worker asks only for trials that fit now, so none waits in Ray's queue while
the server counts it as running. A task whose process or node died is told
``failed`` with ``retry``, and the server queues it again (up to the study's
``max_retries``) as a child that resumes from its checkpoint; an exception in
the trial's own code is a plain failure with its traceback.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import ray
import ray.exceptions

from tunehub.client import Client
from tunehub.errors import (
    ConflictError,
    InvalidError,
    NotFoundError,
    ServerUnavailable,
    TunehubError,
)
from tunehub.schema import (
    AskRequest,
    Cost,
    CostUnit,
    Decision,
    Direction,
    HeartbeatResponse,
    StudyOut,
    TellRequest,
    TrialBatch,
    TrialOut,
    TrialState,
)
from tunehub.study import Study
from tunehub.workers.entrypoints import Work
from tunehub.workers.progress import Progress
from tunehub.workers.task import Outcome, TaskSpec, run_trial

RESOURCE_REFRESH_SECONDS = 5.0
IDLE_STUDY_SECONDS = 1.0
STOP_GRACE_SECONDS = 5.0
"""A trial whose own report heard "stop" gets this long to save and return before
the worker cancels it."""
FORCE_AFTER_SECONDS = 20.0
"""After a cancel, how long before the task's process is killed (a command trial's
process group gets SIGTERM, then SIGKILL 10 s later, inside that time)."""
ERROR_CHARS = 50_000


@dataclass
class WorkerOptions:
    studies: list[str]
    work: Work
    storage: Path
    max_trials: int | None = None
    """New configurations to run (retries of lost trials do not count); None: until stopped."""
    grace_seconds: float = 30.0
    heartbeat_seconds: float | None = None
    """Default: a quarter of the study's grace period, at most 5 s (how soon a stop lands)."""
    num_cpus: float | None = None
    num_gpus: float | None = None
    """Per-trial overrides of the study's resources."""
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    progress: bool = True


@dataclass
class _Study:
    study: Study
    resources: dict[str, float]
    heartbeat_seconds: float
    info_json: dict[str, Any]
    """The study as every one of its tasks gets it, serialized once."""
    idle_until: float = 0.0


@dataclass
class _Running:
    trial: TrialOut
    study: _Study
    ref: ray.ObjectRef[Outcome]
    last_beat: float
    cancelled: TrialState | None = None
    """Why the worker cancelled it: pruned (a policy said stop) or stopped (shutdown)."""
    orphaned: bool = False
    """The server failed it meanwhile (missed heartbeats) and a retry took its place."""
    force_at: float = math.inf
    stop_seen_at: float | None = None
    """When a heartbeat first answered stop (the trial's code may have heard it too)."""
    launched_at: float = 0.0
    deadline: float = math.inf
    """When the worker ends a run its task did not cut off itself (code that ignores the
    alarm, or a long call into C), on the monotonic clock."""
    timed_out: bool = False
    settled: bool = False
    """The policy stopped it on the server (a lost race); nothing is told for it."""


def _start_slack(cutoff: float) -> float:
    """Time beyond the cutoff for a task to start: the task times its own run."""
    return max(10.0, cutoff)


@dataclass
class Summary:
    completed: int = 0
    failed: int = 0
    pruned: int = 0
    stopped: int = 0
    best: float | None = None
    """The best first objective value of the first study."""


class Worker:
    def __init__(self, client: Client, options: WorkerOptions) -> None:
        self.client = client
        self.options = options
        self.summary = Summary()
        self._studies = [self._load_study(name) for name in options.studies]
        self._running: dict[ray.ObjectRef[Outcome], _Running] = {}
        self._launched = 0
        self._retries_owed = 0  # lost trials of ours the server queued again: we run them too
        self._unsent: list[tuple[_Running, TellRequest]] = []  # tells the server did not take yet
        self._stopping = False
        self._stop_deadline = math.inf
        self._total: dict[str, float] = {}
        self._total_at = -math.inf
        self._turn = 0
        self._remote = ray.remote(max_retries=0)(run_trial)
        # Where the entrypoint imports from here (the working folder, PYTHONPATH), for
        # tasks on this machine; never site-packages, which each node has its own of.
        extra = os.environ.get("PYTHONPATH", "").split(os.pathsep)
        self._search_path = tuple(p for p in (os.getcwd(), *extra) if p)
        self._progress = Progress(
            total=options.max_trials, enabled=options.progress, direction=self._direction()
        )
        self._warn_if_nothing_fits()

    # -- lifecycle -------------------------------------------------------------------

    def run(self) -> Summary:
        with self._signals():
            try:
                while True:
                    now = time.monotonic()
                    if not self._stopping:
                        self._fill(now)
                    if self._done():
                        break
                    self._send_unsent()
                    self._collect()
                    self._heartbeat(time.monotonic())
                    self._enforce_deadline(time.monotonic())
                    self._progress.update(self.summary, running=len(self._running))
            finally:
                self._progress.close()
        return self.summary

    def shutdown(self, *, immediately: bool = False) -> None:
        """Stop asking; running trials get the grace period (none when ``immediately``)."""
        if not self._stopping:
            self._stopping = True
            self._stop_deadline = time.monotonic() + self.options.grace_seconds
        if immediately:
            self._stop_deadline = time.monotonic()

    def _signals(self) -> _SignalHandlers:
        return _SignalHandlers(self._on_signal)

    def _on_signal(self, signum: int) -> None:
        again = self._stopping
        self.shutdown(immediately=again)
        name = signal.Signals(signum).name
        if again:
            self._progress.write(f"tunehub worker: {name} again: stopping running trials now")
        else:
            self._progress.write(
                f"tunehub worker: {name}: asking no more trials; running ones have "
                f"{self.options.grace_seconds:g} s to finish ({name} again stops them now)"
            )

    def _done(self) -> bool:
        """Nothing runs and nothing more will; results the server missed are told first
        (when stopping, for at most a minute past the grace period)."""
        if self._running or not (self._stopping or self._all_launched()):
            return False
        return not self._unsent or time.monotonic() > self._stop_deadline + 60

    def _all_launched(self) -> bool:
        return self._remaining() == 0

    # -- asking ------------------------------------------------------------------------

    def _fill(self, now: float) -> None:
        total = self._cluster_resources(now)
        used: dict[str, float] = {}
        for running in self._running.values():
            _add(used, running.study.resources)
        active = [s for s in self._studies if s.idle_until <= now]
        n = len(self._studies)
        order = [self._studies[(self._turn + i) % n] for i in range(n)]
        self._turn += 1
        for entry in order:
            if entry not in active or self._all_launched():
                continue
            room = _fits(entry.resources, total, used, len(self._running))
            share = max(1, math.ceil(room / max(1, len(active)))) if room else 0
            count = min(room, share, self._remaining())
            if count <= 0:
                continue
            try:
                trials = self._ask(entry, count)
            except ServerUnavailable as error:
                self._progress.write(f"tunehub worker: {error}")
                trials = []
            if not trials:
                entry.idle_until = now + IDLE_STUDY_SECONDS
                continue
            for trial in trials:
                self._launch(entry, trial)
                _add(used, entry.resources)

    def _remaining(self) -> int:
        if self.options.max_trials is None:
            return 1_000
        return max(0, self.options.max_trials - self._launched) + self._retries_owed

    def _ask(self, entry: _Study, count: int) -> list[TrialOut]:
        request = AskRequest(
            count=min(count, entry.study.info.max_ask_count),
            worker=self.options.worker_id,
            request_id=uuid.uuid4().hex,
        )
        body = self.client.request(
            "POST", f"/studies/{entry.study.id}/ask", json=request.model_dump(mode="json")
        )
        return TrialBatch.model_validate(body).trials

    def _launch(self, entry: _Study, trial: TrialOut) -> None:
        spec = TaskSpec(
            url=self.client.url,
            token=self.client.token,
            study=entry.info_json,
            trial=trial.model_dump(mode="json"),
            work=self.options.work,
            storage=str(self.options.storage),
            search_path=self._search_path,
        )
        options: dict[str, Any] = {
            "num_cpus": entry.resources.get("CPU", 0.0),
            "num_gpus": entry.resources.get("GPU", 0.0),
            "name": f"tunehub:{entry.study.name}:{trial.number}",
        }
        ref = self._remote.options(**options).remote(spec)
        now = time.monotonic()
        cutoff = trial.cutoff if trial.cutoff is not None else entry.study.info.cutoff
        self._running[ref] = _Running(
            trial,
            entry,
            ref,
            last_beat=now,
            launched_at=now,
            deadline=now + cutoff + _start_slack(cutoff) if cutoff is not None else math.inf,
        )
        quota_left = self.options.max_trials is None or self._launched < self.options.max_trials
        if trial.retries == 0 and quota_left:
            self._launched += 1
        else:  # a retry, or (once the quota is used) whatever came in its place
            self._retries_owed = max(0, self._retries_owed - 1)

    def _warn_if_nothing_fits(self) -> None:
        total = self._cluster_resources(time.monotonic())
        for entry in self._studies:
            for name, amount in entry.resources.items():
                if amount > total.get(name, 0.0):
                    self._progress.write(
                        f"tunehub worker: a trial of {entry.study.name!r} takes {amount:g} {name} "
                        f"and the Ray cluster has {total.get(name, 0.0):g}: its trials wait "
                        "for nodes (or set --cpus-per-trial / --gpus-per-trial)"
                    )

    def _cluster_resources(self, now: float) -> dict[str, float]:
        if now - self._total_at > RESOURCE_REFRESH_SECONDS:
            self._total = {k: float(v) for k, v in ray.cluster_resources().items()}  # type: ignore[no-untyped-call]
            self._total_at = now
        return self._total

    # -- results -----------------------------------------------------------------------

    def _collect(self) -> None:
        refs = list(self._running)
        if not refs:
            time.sleep(0.1)
            return
        ready, rest = ray.wait(refs, num_returns=1, timeout=0.2)
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        for ref in ready:
            self._finish(self._running.pop(ref))

    def _finish(self, running: _Running) -> None:
        if running.settled:
            with contextlib.suppress(ray.exceptions.RayError):
                ray.get(running.ref)
            self.summary.stopped += 1
            return
        request = self._outcome_request(running)
        if request is None or running.orphaned:
            return
        self._tell(running, request)

    def _send_unsent(self) -> None:
        unsent, self._unsent = self._unsent, []
        for running, request in unsent:
            self._tell(running, request)

    def _tell(self, running: _Running, request: TellRequest) -> None:
        try:
            told = TrialOut.model_validate(
                self.client.request(
                    "POST",
                    f"/trials/{running.trial.id}/tell",
                    json=request.model_dump(mode="json", exclude_none=True, exclude_defaults=True),
                )
            )
        except ServerUnavailable as error:  # keep the result; tell it when the server is back
            self._progress.write(f"tunehub worker: trial {running.trial.id}: {error}")
            self._unsent.append((running, request))
            return
        except InvalidError as error:  # e.g. metrics the server refuses: keep the outcome
            if request.state == TrialState.FAILED and request.metrics is None:
                self._progress.write(f"tunehub worker: trial {running.trial.id}: {error}")
                return
            refused = f"the worker's result was refused ({error}); it was {request.state}"
            self._tell(
                running,
                TellRequest(
                    state=TrialState.FAILED, error=_clip(f"{refused}\n{request.error or ''}")
                ),
            )
            return
        except (ConflictError, NotFoundError) as error:
            self._progress.write(f"tunehub worker: trial {running.trial.id}: {error}")
            return
        self._count(told)
        if request.retry and running.trial.retries < running.study.study.info.max_retries:
            self._retries_owed += 1

    def _outcome_request(self, running: _Running) -> TellRequest | None:
        try:
            outcome = ray.get(running.ref)
        except ray.exceptions.RayError as error:
            return self._lost_outcome(running, error)
        if outcome.kind == "told":
            self._count_told(running.trial.id)
            return None
        cost = self._cost(running, outcome.wall_seconds)
        if outcome.kind == "completed":
            return TellRequest(values=outcome.values, metrics=outcome.metrics, cost=cost)
        if outcome.kind == "timed_out":
            return TellRequest(timed_out=True, metrics=outcome.metrics, cost=cost)
        state = TrialState.PRUNED if outcome.kind == "pruned" else TrialState.FAILED
        text = None if outcome.error is None else _clip(outcome.error)
        return TellRequest(state=state, error=text, metrics=outcome.metrics, cost=cost)

    def _cost(self, running: _Running, wall_seconds: float) -> float | None:
        gpus = running.study.resources.get("GPU", 0.0)
        return measured_cost(running.study.study.info.cost, wall_seconds, gpus)

    def _lost_outcome(self, running: _Running, error: ray.exceptions.RayError) -> TellRequest:
        """What to tell for a task that ended without an outcome: cut off, cancelled or lost."""
        if running.timed_out:
            cost = self._cost(running, time.monotonic() - running.launched_at)
            return TellRequest(timed_out=True, cost=cost)
        if running.cancelled is not None:
            return TellRequest(state=running.cancelled, error=self._why(running))
        if isinstance(error, ray.exceptions.TaskCancelledError):
            return TellRequest(state=TrialState.STOPPED, error=self._why(running))
        if isinstance(error, ray.exceptions.RayTaskError):
            return TellRequest(
                state=TrialState.FAILED, error=_clip(f"the trial's task failed:\n{error}")
            )
        return TellRequest(  # its process or node died
            state=TrialState.FAILED,
            error=_clip(f"the trial's Ray worker was lost ({type(error).__name__}): {error}"),
            retry=True,
        )

    def _why(self, running: _Running) -> str:
        if running.cancelled == TrialState.PRUNED:
            return "stopped early: the policy answered stop"
        return "the worker shut down before the trial finished"

    def _count_told(self, trial_id: int) -> None:
        with contextlib.suppress(TunehubError, ServerUnavailable):
            self._count(TrialOut.model_validate(self.client.request("GET", f"/trials/{trial_id}")))

    def _count(self, trial: TrialOut) -> None:
        if trial.state == TrialState.COMPLETED and trial.values:
            self.summary.completed += 1
            if trial.study_id != self._studies[0].study.id:
                return  # the best shown is the first study's: values of others do not compare
            value = next(iter(trial.values.values()))
            best = self.summary.best
            if best is None or (value > best if self._direction() == "maximize" else value < best):
                self.summary.best = value
        elif trial.state == TrialState.FAILED:
            self.summary.failed += 1
        elif trial.state == TrialState.PRUNED:
            self.summary.pruned += 1
        elif trial.state == TrialState.STOPPED:
            self.summary.stopped += 1

    def _direction(self) -> str:
        first = self._studies[0].study.info.objectives[0]
        return "maximize" if first.direction == Direction.MAXIMIZE else "minimize"

    # -- heartbeats and stopping -------------------------------------------------------

    def _heartbeat(self, now: float) -> None:
        for running in list(self._running.values()):
            if now - running.last_beat < running.study.heartbeat_seconds:
                continue  # cancelled trials too: a cancel can take a while, and must not expire
            running.last_beat = now
            try:
                answer = HeartbeatResponse.model_validate(
                    self.client.request("POST", f"/trials/{running.trial.id}/heartbeat")
                )
            except ConflictError:
                self._lost_to_server(running)
                continue
            except (TunehubError, ServerUnavailable):
                continue  # the server's grace period spans several beats: try again next time
            if answer.decision == Decision.STOP and answer.state == TrialState.STOPPED:
                running.settled = True  # the server stored it as stopped: end it, tell nothing
                self._cancel(running, TrialState.STOPPED)
                continue
            if answer.decision == Decision.STOP and running.stop_seen_at is None:
                running.stop_seen_at = now
            if (
                running.stop_seen_at is not None
                and now - running.stop_seen_at >= STOP_GRACE_SECONDS
            ):
                self._cancel(running, TrialState.PRUNED)

    def _lost_to_server(self, running: _Running) -> None:
        """The trial is no longer running on the server: told by its own code, or failed."""
        try:
            info = TrialOut.model_validate(
                self.client.request("GET", f"/trials/{running.trial.id}")
            )
        except (TunehubError, ServerUnavailable):
            return
        if info.state.finished and not _expired(info):
            return  # its own code told it; the task ends by itself
        running.orphaned = True
        self._cancel(running, TrialState.FAILED)

    def _cancel(self, running: _Running, reason: TrialState) -> None:
        if running.cancelled is not None:
            return
        running.cancelled = reason
        running.force_at = time.monotonic() + FORCE_AFTER_SECONDS
        ray.cancel(running.ref, force=False)

    def _enforce_deadline(self, now: float) -> None:
        for running in list(self._running.values()):
            if running.cancelled is None and now >= running.deadline:
                running.timed_out = True  # told as a timeout, whatever the cancel raises
                self._cancel(running, TrialState.STOPPED)
            elif running.cancelled is None and now >= self._stop_deadline:
                self._cancel(running, TrialState.STOPPED)
            elif running.cancelled is not None and now >= running.force_at:
                running.force_at = math.inf  # it ignored the interrupt: end its process
                ray.cancel(running.ref, force=True)

    # -- setup -------------------------------------------------------------------------

    def _load_study(self, name: str) -> _Study:
        study = self.client.get_study(int(name) if name.isdigit() else name)
        resources = _resources(study.info, self.options)
        grace = study.info.heartbeat_grace_seconds
        beat = self.options.heartbeat_seconds or min(5.0, (grace or 20.0) / 4)
        return _Study(study, resources, beat, study.info.model_dump(mode="json"))


def measured_cost(cost: Cost | None, wall_seconds: float, gpus: float) -> float | None:
    """The cost the study counts (``Cost.unit``); ``None`` when only the trial tells it.

    GPU seconds of a trial that holds no GPU (a CPU-only test run) are its wall seconds.
    """
    unit = cost.unit if cost is not None else CostUnit.WALL_SECONDS
    if unit == CostUnit.TOLD:
        return None
    if unit == CostUnit.GPU_SECONDS and gpus > 0:
        return wall_seconds * gpus
    return wall_seconds


def _resources(info: StudyOut, options: WorkerOptions) -> dict[str, float]:
    cpus = info.resources.num_cpus if info.resources else 1.0
    gpus = info.resources.num_gpus if info.resources else 0.0
    if options.num_cpus is not None:
        cpus = options.num_cpus
    if options.num_gpus is not None:
        gpus = options.num_gpus
    return {name: amount for name, amount in (("CPU", cpus), ("GPU", gpus)) if amount > 0}


def _add(total: dict[str, float], amounts: dict[str, float]) -> None:
    for name, amount in amounts.items():
        total[name] = total.get(name, 0.0) + amount


def _fits(
    need: dict[str, float], total: dict[str, float], used: dict[str, float], running: int
) -> int:
    """How many more trials needing ``need`` fit in what the cluster has left."""
    if not need:  # trials that take nothing: keep two per CPU in flight
        return max(0, int(total.get("CPU", 1.0)) * 2 - running)
    return max(
        0,
        min(math.floor((total.get(k, 0.0) - used.get(k, 0.0)) / v + 1e-9) for k, v in need.items()),
    )


def _clip(text: str) -> str:
    """Keep the end of a long error (a traceback's end says the most)."""
    return text if len(text) <= ERROR_CHARS else "..." + text[-ERROR_CHARS:]


def _expired(info: TrialOut) -> bool:
    return info.state == TrialState.FAILED and (info.error or "").startswith("heartbeat expired")


class _SignalHandlers:
    """SIGINT and SIGTERM call ``handler`` while the loop runs; the old handlers come back after."""

    def __init__(self, handler: Callable[[int], None]) -> None:
        self._handler = handler
        self._old: dict[int, Any] = {}

    def __enter__(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._old[signum] = signal.signal(signum, self._on)

    def _on(self, signum: int, _frame: FrameType | None) -> None:
        self._handler(signum)

    def __exit__(self, *_: object) -> None:
        for signum, old in self._old.items():
            signal.signal(signum, old)
