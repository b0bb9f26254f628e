"""HEBO (the NeurIPS 2020 black-box challenge winner), run in its own virtualenv.

HEBO pins numpy below 1.25, so ``make bench-quality-hebo`` installs it into
``.venv-hebo`` and each run talks to ``hebo_worker.py`` there over a pipe.
HEBO has no outcome constraints (infeasible trials cost the problem's penalty
plus their violation) and this adapter runs one objective only.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from bench.quality.optimizers.base import Context, Optimizer
from bench.quality.problem import Problem
from bench.quality.problem import recorder as problem_recorder
from bench.quality.trials import Trial

ROOT = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("hebo_worker.py")


def hebo_python() -> Path:
    """``TUNEHUB_HEBO_PYTHON``, else the interpreter of ``.venv-hebo``."""
    return Path(os.environ.get("TUNEHUB_HEBO_PYTHON") or ROOT / ".venv-hebo" / "bin" / "python")


class HEBO(Optimizer):
    name = "hebo"

    def missing(self) -> str | None:
        python = hebo_python()
        if not python.exists():
            return f"no HEBO interpreter at {python} (make bench-quality-hebo installs one)"
        return None

    def unsupported(self, problem: Problem) -> str | None:
        return "one objective only" if problem.multi_objective else None

    def optimize(self, problem: Problem, seed: int, budget: int, context: Context) -> list[Trial]:
        recorder = problem_recorder(problem, seed)
        environment = {**os.environ, "PYTHONPATH": ""}
        log = context.workdir / "hebo.log"
        with (
            log.open("w") as errors,
            subprocess.Popen(
                [str(hebo_python()), str(WORKER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                env=environment,
            ) as worker,
        ):
            assert worker.stdin is not None and worker.stdout is not None
            talk = _Channel(worker.stdin, worker.stdout, log)
            talk.send({"space": problem.space, "seed": seed})
            for _ in range(budget):
                params = talk.ask({"op": "suggest"})["params"]
                outcome = recorder.evaluate(params)
                talk.ask({"op": "observe", "params": params, "value": problem.penalized(outcome)})
            worker.stdin.close()
        return recorder.trials


class _Channel:
    def __init__(self, stdin: Any, stdout: Any, log: Path) -> None:
        self.stdin, self.stdout, self.log = stdin, stdout, log

    def send(self, message: dict[str, Any]) -> None:
        self.stdin.write(json.dumps(message) + "\n")
        self.stdin.flush()

    def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        self.send(message)
        line = self.stdout.readline()
        if not line:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"the HEBO worker stopped: {tail}")
        reply: dict[str, Any] = json.loads(line)
        return reply
