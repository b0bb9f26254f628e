"""One trial, as it runs inside a Ray task on whichever node Ray chose.

The task talks to the server only through the SDK (the trial's reports go
straight to it, so their stop answers reach the training code at once), and
returns an ``Outcome`` that the worker tells: a task that dies never gets to
tell, and the worker then knows it from Ray.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tunehub.client import Client
from tunehub.current import CHECKPOINT_DIR, PARAMS, TRIAL_ID
from tunehub.errors import TrialPruned
from tunehub.schema import StudyOut, TrialOut
from tunehub.study import Study, Trial
from tunehub.workers import checkpoints
from tunehub.workers.entrypoints import Command, Entrypoint, Work

OutcomeKind = Literal["completed", "failed", "pruned", "told", "timed_out"]


class CutoffReached(BaseException):
    """Raised in the trial's code when its cutoff runs out (a BaseException, so the
    trial's own ``except Exception`` does not swallow it)."""


@dataclass(frozen=True)
class TaskSpec:
    url: str
    token: str | None
    study: dict[str, Any]
    trial: dict[str, Any]
    work: Work
    storage: str
    search_path: tuple[str, ...] = ()
    """The worker's import path, so entrypoints next to it import on local nodes too."""


@dataclass
class Outcome:
    kind: OutcomeKind
    values: dict[str, float | None] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    wall_seconds: float = 0.0


class WorkerTrial(Trial):
    """A trial that remembers a stop answer, so returning after it tells ``pruned``."""

    stop_answered = False

    def report(self, step: int, value: Any) -> bool:
        stop = super().report(step, value)
        self.stop_answered = self.stop_answered or stop
        return stop


_clients: dict[tuple[str, str | None], Client] = {}


def _client(url: str, token: str | None) -> Client:
    """One client per Ray worker process: its connections outlive the task."""
    key = (url, token)
    if key not in _clients:
        _clients[key] = Client(url, token=token)
    return _clients[key]


def run_trial(spec: TaskSpec) -> Outcome:
    started = time.monotonic()
    for entry in reversed(spec.search_path):
        if entry not in sys.path and os.path.isdir(entry):
            sys.path.insert(0, entry)
    study = Study(_client(spec.url, spec.token), StudyOut.model_validate(spec.study))
    trial = WorkerTrial(study, TrialOut.model_validate(spec.trial))
    trial.checkpoint_dir = checkpoints.prepare(
        Path(spec.storage), study.name, study.id, trial.id, trial.parent_id
    )
    gpus = _gpu_ids()
    try:
        if isinstance(spec.work, Entrypoint):
            with _cutoff_alarm(trial.cutoff):
                outcome = _run_function(spec.work, trial)
        else:
            outcome = _run_command(spec, spec.work, trial, gpus)
    except CutoffReached:
        outcome = Outcome("timed_out")
    except TrialPruned:
        outcome = Outcome("pruned")
    except Exception:
        outcome = Outcome("failed", error=traceback.format_exc())
    outcome.wall_seconds = time.monotonic() - started
    outcome.metrics = {
        **trial.metrics,
        **outcome.metrics,
        "wall_seconds": outcome.wall_seconds,
        "gpu_seconds": outcome.wall_seconds * len(gpus),
        "gpus": gpus,
        "node": platform.node(),
    }
    return outcome


@contextlib.contextmanager
def _cutoff_alarm(cutoff: float | None) -> Iterator[None]:
    """Raise ``CutoffReached`` in the trial's code once ``cutoff`` seconds have passed.

    The clock starts here, with the trial's own code, so a slow task start (a new Ray
    worker process, imports) is not charged to the run. Off the main thread no signal
    can be delivered; the worker's own deadline then ends the run.
    """
    if cutoff is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise CutoffReached

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, cutoff)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _run_function(work: Entrypoint, trial: WorkerTrial) -> Outcome:
    result = work.load()(trial)
    if trial.finished:
        return Outcome("told")
    if trial.stop_answered:
        return Outcome("pruned")
    if result is None:
        return Outcome(
            "failed",
            error=f"{work.target} returned None: return the objective value "
            "(or a dict of values), or call trial.tell",
        )
    return Outcome("completed", values=trial._values(result))


def _run_command(spec: TaskSpec, work: Command, trial: WorkerTrial, gpus: list[str]) -> Outcome:
    folder = trial.checkpoint_dir
    assert folder is not None
    env = {
        **os.environ,
        "TUNEHUB_URL": spec.url,
        TRIAL_ID: str(trial.id),
        PARAMS: json.dumps(trial.params),
        CHECKPOINT_DIR: str(folder),
        "TUNEHUB_STUDY": trial.study.name,
    }
    if spec.token:
        env["TUNEHUB_API_KEY"] = spec.token
    stdout_path, stderr_path = folder / "stdout.log", folder / "stderr.log"
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        process = subprocess.Popen(
            work.line, shell=True, env=env, stdout=out, stderr=err, start_new_session=True
        )
        try:
            code = process.wait(timeout=trial.cutoff)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return Outcome("timed_out")
        except BaseException:  # cancelled (KeyboardInterrupt) or the task is torn down
            _kill_group(process)
            raise
    info = TrialOut.model_validate(trial.study.client.request("GET", f"/trials/{trial.id}"))
    if info.state.finished:
        return Outcome("told")
    if code != 0:
        return Outcome(
            "failed", error=f"`{work.line}` exited with {code}; stderr ends:\n{_tail(stderr_path)}"
        )
    last = _tail(stdout_path, lines=1).strip()
    try:
        value = float(last)
    except ValueError:
        return Outcome(
            "failed",
            error=f"`{work.line}` exited 0 without telling a result: call "
            "tunehub.current_trial().tell(value), or print the value as its last line",
        )
    return Outcome("completed", values=trial._values(value))


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def _tail(path: Path, *, lines: int = 20) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _gpu_ids() -> list[str]:
    import ray

    try:
        return [str(g) for g in ray.get_gpu_ids()]
    except Exception:  # not inside a Ray worker
        return []
