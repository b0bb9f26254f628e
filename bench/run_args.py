"""The command-line options every problems x optimizers x seeds bench takes."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path


def add_run_arguments(
    parser: argparse.ArgumentParser, problems: Sequence[str], optimizers: Sequence[str], out: Path
) -> None:
    parser.add_argument("--problems", default=",".join(problems))
    parser.add_argument("--optimizers", default=",".join(optimizers))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="runs side by side")
    parser.add_argument(
        "--budget-scale", type=float, default=1.0, help="scales every problem's total budget"
    )
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--report-from", type=Path, nargs="*", help="results.json files")
