"""``python -m bench.quality``: the quality benchmark every Tunehub policy is judged by.

Problems x optimizers x seeds, each run in a worker process; Tunehub policies
go through the SDK, each worker against a live server of its own. Writes
results.json, table.md and one convergence plot per problem to ``--out``.
``--report-from`` draws that report again from earlier results.json files,
merging their runs, without running anything.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.quality.harness import run
from bench.quality.merge import archive, load_results
from bench.quality.optimizers import DEFAULT_OPTIMIZERS, known_optimizers
from bench.quality.problems import get_problem, problem_names
from bench.quality.report import write_report
from bench.quality.split import HALVES

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results" / "quality"
JOURNAL = "runs.jsonl"
"""Each run as it finishes, in ``--out``: what ``--resume`` reads back."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list:
        for name in problem_names():
            problem = get_problem(name)
            print(f"{name}\t{problem.family}\t{problem.half}\t{problem.description}")
        return 0
    if args.report_from:
        try:
            results = load_results(args.report_from, progress=lambda line: print(line, flush=True))
        except (OSError, ValueError, KeyError) as error:
            parser.error(f"--report-from: {type(error).__name__}: {error}")
        if args.archive:
            archive(results, args.archive)
            print(f"archived {len(results.runs)} runs in {args.archive}")
        paths = write_report(results, args.out)
        print(paths["table"].read_text())
        print(f"wrote {args.out} from {len(args.report_from)} results file(s)")
        return 0
    try:
        problems = _selected(args.problems, args.families, args.half)
    except ValueError as error:
        parser.error(str(error))
    args.out.mkdir(parents=True, exist_ok=True)
    results = run(
        problems,
        args.optimizers,
        list(range(args.first_seed, args.first_seed + args.seeds)),
        budget_scale=args.budget_scale,
        workers=args.workers,
        progress=lambda line: print(line, flush=True),
        journal=args.out / JOURNAL,
        resume=args.resume,
    )
    paths = write_report(results, args.out)
    print(paths["table"].read_text())
    print(f"wrote {args.out} ({results.seconds:.1f} s)")
    return 0


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _selected(names: list[str] | None, families: list[str] | None, half: str | None) -> list[str]:
    """The named problems (default: all), narrowed to ``families`` and ``half`` when given."""
    chosen = [get_problem(n) for n in (names or problem_names())]
    known = {p.family for p in map(get_problem, problem_names())}
    unknown = sorted(set(families or ()) - known)
    if unknown:
        raise ValueError(f"--families: unknown {unknown}; choose from {sorted(known)}")
    out = [
        p.name
        for p in chosen
        if (families is None or p.family in families) and (half is None or p.half == half)
    ]
    if not out:
        raise ValueError("no problem is left after --problems, --families and --half")
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quality", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--problems",
        type=_names,
        help="comma-separated problem names (default: all; `--list` shows them)",
    )
    parser.add_argument(
        "--families",
        type=_names,
        help="only problems of these families (comma-separated), e.g. synthetic,noisy",
    )
    parser.add_argument(
        "--half", choices=HALVES, help="only the problems of this half of the split"
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="print every problem with its family and half, and run nothing",
    )
    parser.add_argument(
        "--optimizers",
        type=_names,
        default=list(DEFAULT_OPTIMIZERS),
        help=f"comma-separated, from {', '.join(known_optimizers())} "
        f"(default: {','.join(DEFAULT_OPTIMIZERS)})",
    )
    parser.add_argument(
        "--seeds", type=int, default=5, help="how many seeds, from --first-seed (default: 5)"
    )
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="run seeds K..K+N-1, e.g. to add seeds to an earlier run (default: 0)",
    )
    parser.add_argument(
        "--budget-scale",
        type=float,
        default=1.0,
        help="multiply every problem's budget (default: 1)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="parallel job processes (default: 2)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"(default: {DEFAULT_OUT})")
    parser.add_argument(
        "--archive",
        type=Path,
        metavar="JOURNAL_GZ",
        help="with --report-from: also write the merged runs there as a compressed journal "
        "without parameters (what the scores need, a quarter of the size), "
        "which --report-from reads back",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help=f"take the successful runs in --out's {JOURNAL} (every run is appended there as "
        "it ends) as done, and run only the rest: an interrupted run goes on where it stopped",
    )
    parser.add_argument(
        "--report-from",
        type=Path,
        nargs="+",
        metavar="RESULTS_JSON",
        help="run nothing: write the report again from these results.json files, "
        "their runs merged (later files win where runs coincide; "
        "--problems, --optimizers, --seeds, --first-seed, --budget-scale and --workers "
        "are ignored)",
    )
    return parser


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """``kill`` unwinds like Ctrl-C: the servers and worker pool are shut down, not orphaned."""
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    sys.exit(main())
