"""Trial functions that `tunehub worker --entrypoint` runs in the worker tests.

Each leaves evidence the tests read back through the API (metrics) or the
filesystem (files under ``TUNEHUB_TEST_DIR``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import tunehub


def _evidence_dir() -> Path:
    folder = Path(os.environ["TUNEHUB_TEST_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def quadratic(trial: tunehub.Trial) -> float:
    """Reports a short curve; raises for large x, so some trials fail with a traceback."""
    x = float(trial.params["x"])  # type: ignore[arg-type]
    if x > 0.7:
        raise ValueError(f"x={x} is too large for this model")
    for step in range(3):
        trial.report(step, (x - 0.3) ** 2 + 1.0 / (step + 1))
    return (x - 0.3) ** 2


def gpu_sleeper(trial: tunehub.Trial) -> float:
    """Holds its GPU for a while and records which devices it saw, and when."""
    started = time.time()
    time.sleep(2.0)
    trial.metrics.update(
        cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES", ""),
        started=started,
        ended=time.time(),
    )
    return 0.0


def resumable(trial: tunehub.Trial) -> float:
    """First attempt: checkpoints, leaves its pid and waits to be killed. A retry resumes."""
    assert trial.checkpoint_dir is not None
    state = trial.checkpoint_dir / "state.txt"
    if state.exists():
        trial.metrics["resumed_from"] = state.read_text()
        return 1.0
    state.write_text(f"trial {trial.id} step 5")
    (_evidence_dir() / f"pid-{trial.id}").write_text(str(os.getpid()))
    time.sleep(120)
    return 0.0


def solver_run(trial: tunehub.Trial) -> float:
    """Seconds ``x * 10`` on its instance: a run past the study's cutoff is cut off."""
    assert trial.instance is not None and trial.cutoff is not None
    started = time.monotonic()
    time.sleep(float(trial.params["x"]) * 10 * trial.instance_features.get("scale", 1.0))
    return time.monotonic() - started


def sleeper(trial: tunehub.Trial) -> float:
    (_evidence_dir() / f"started-{trial.id}").write_text("")
    time.sleep(120)
    return 0.0


def stubborn_curve(trial: tunehub.Trial) -> float:
    """Good configurations finish fast; bad ones ignore the stop answer and keep going."""
    x = float(trial.params["x"])  # type: ignore[arg-type]
    steps = 3 if x < 0.5 else 300
    for step in range(steps):
        trial.report(step, x + 1.0 / (step + 1))  # the answer is ignored on purpose
        time.sleep(0.1)
    return x


def slow_value(trial: tunehub.Trial) -> float:
    (_evidence_dir() / f"started-{trial.id}").write_text("")
    time.sleep(4)
    return 0.5
