"""The markdown table: one row per problem and optimizer, then who wins each problem."""

from __future__ import annotations

import math

from bench.quality.harness import Results
from bench.quality.metrics import FRACTIONS, Spread
from bench.quality.summary import ProblemSummary


def markdown(results: Results, summaries: list[ProblemSummary]) -> str:
    fractions = " | ".join(f"{f:.0%} budget" for f in FRACTIONS)
    uniform = all(
        sorted(r.seed for r in results.runs_of(p.name, o)) == sorted(results.seeds)
        for p in results.problems
        for o in results.optimizers
    )
    seeds = f"Seeds {_seeds(results.seeds)} " + (
        "for every optimizer, " if uniform else "(see ok runs per row), "
    )
    lines = [
        "# Quality benchmark",
        "",
        seeds + f"budget scale {results.budget_scale:g}, "
        f"{results.workers} worker processes, {results.seconds / 60:.1f} min in all. "
        "Cells: median [25th, 75th percentile] over seeds after that share of the budget. "
        "Regret is the best feasible value so far minus the optimum (lower is better); "
        "hypervolume is of the feasible front so far (higher is better).",
        "",
        f"| problem | optimizer | metric | {fractions} | ok runs | note |",
        "|---|---|---|" + "---|" * len(FRACTIONS) + "---|---|",
    ]
    for summary in summaries:
        label = f"{summary.problem.name} (budget {summary.budget})"
        for entry in summary.entries:
            cells = [_cell(s) for s in entry.spreads] or ["-"] * len(FRACTIONS)
            metric = summary.scoring.label or summary.scoring.metric
            row = [label, entry.optimizer, metric, *cells]
            row += [f"{len(entry.ok_runs)}/{len(entry.runs)}", _escape(entry.note)]
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## Per problem", ""]
    lines += [f"- {_verdict(s)}" for s in summaries]
    lines += _standings(results, summaries)
    return "\n".join(lines) + "\n"


def _standings(results: Results, summaries: list[ProblemSummary]) -> list[str]:
    """Each Tunehub policy's median final score against the best peer's, problem by problem."""
    ours = [name for name in results.optimizers if name.startswith("tunehub-")]
    out: list[str] = []
    for name in ours:
        rows, at_least_as_good, compared = [], 0, 0
        for summary in summaries:
            mine = next((e for e in summary.entries if e.optimizer == name and e.spreads), None)
            peers = [e for e in summary.entries if not e.optimizer.startswith("tunehub-")]
            scored = [e for e in peers if e.spreads]
            if mine is None or not scored:
                continue
            sign = -1.0 if summary.scoring.higher_is_better else 1.0
            best = min(scored, key=lambda e: sign * e.spreads[-1].median)
            ok = sign * mine.spreads[-1].median <= sign * best.spreads[-1].median
            compared += 1
            at_least_as_good += ok
            rows.append(
                f"| {summary.problem.name} | {_num(mine.spreads[-1].median)} | {best.optimizer} "
                f"| {_num(best.spreads[-1].median)} | {'yes' if ok else 'no'} |"
            )
        out += [
            "",
            f"## {name} against the best peer",
            "",
            f"At least as good as every peer (median at the full budget) on "
            f"{at_least_as_good} of {compared} problems.",
            "",
            f"| problem | {name} | best peer | its median | {name} at least as good |",
            "|---|---|---|---|---|",
            *rows,
        ]
    return out


def _verdict(summary: ProblemSummary) -> str:
    head = f"**{summary.problem.name}** ({summary.problem.description})"
    note = f"; {summary.scoring.note}" if summary.scoring.note else ""
    best = summary.best()
    if best is None:
        return f"{head}: no successful run{note}"
    final = best.spreads[-1].median
    if summary.scoring.higher_is_better:
        gap = summary.final_log10_gap(best)
        gap_text = f", log10 gap to {summary.scoring.reference:.6g}: " + (
            f"{gap:.2f}" if gap is not None else "none"
        )
        winner = f"{best.optimizer} ({_num(final)}{gap_text})"
        return f"{head}: highest median final hypervolume: {winner}{note}"
    return f"{head}: lowest median final regret: {best.optimizer} ({_num(final)}){note}"


def _seeds(seeds: list[int]) -> str:
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


def _cell(spread: Spread) -> str:
    return f"{_num(spread.median)} [{_num(spread.q25)}, {_num(spread.q75)}]"


def _num(value: float) -> str:
    if math.isnan(value):
        return "nan"
    return "0" if value == 0 else f"{value:.3g}"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:160]
