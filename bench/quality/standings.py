"""The suite's verdicts: per half and family, who ranks first, and where ``gp`` wins or loses.

Everything is computed from the same traces as ``table.md``, read after a
fixed number of trials (``READ_AT``). A run's *regret* is its best-so-far
regret, or for several objectives its hypervolume gap. Per problem:

- the median and interquartile range of the regret over seeds;
- normalized regret: the optimizer's median divided by random search's;
- rank: optimizers ordered by median regret (ties share the mean rank);
- paired comparisons: two optimizers' regrets on the seeds both ran, by a
  two-sided Wilcoxon signed-rank test at ``ALPHA``; not significant is a tie.
  With five seeds no difference can reach ``ALPHA`` (the smallest two-sided
  p-value is 0.0625), so peers run on five seeds tie unless it is ten.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata, wilcoxon

from bench.quality.metrics import gap
from bench.quality.split import HALVES
from bench.quality.summary import ProblemSummary

READ_AT = (20, 50)
ALPHA = 0.05
BASELINE = "random"
EPSILON = 1e-12


@dataclass(frozen=True)
class Cell:
    """One optimizer on one problem after ``trials`` trials."""

    optimizer: str
    regrets: dict[int, float]
    """By seed."""

    @property
    def median(self) -> float:
        return float(statistics.median(self.regrets.values()))

    @property
    def iqr(self) -> tuple[float, float]:
        q25, q75 = np.percentile(list(self.regrets.values()), [25, 75])
        return float(q25), float(q75)


def cells(summary: ProblemSummary, trials: int) -> dict[str, Cell]:
    """Every optimizer with a successful run, its regret per seed after ``trials`` trials."""
    out = {}
    for entry in summary.entries:
        regrets = {}
        for run, trace in zip(entry.ok_runs, entry.traces):
            values = gap(trace, summary.scoring)
            regrets[run.seed] = max(0.0, float(values[min(trials, len(values)) - 1]))
        if regrets:
            out[entry.optimizer] = Cell(entry.optimizer, regrets)
    return out


def compare(a: Cell, b: Cell) -> str:
    """``win``, ``tie`` or ``loss`` of ``a`` against ``b``, paired over their common seeds."""
    seeds = sorted(set(a.regrets) & set(b.regrets))
    diffs = [a.regrets[s] - b.regrets[s] for s in seeds]
    scale = max([abs(a.regrets[s]) + abs(b.regrets[s]) for s in seeds] + [EPSILON])
    if len(seeds) < 2 or all(abs(d) <= 1e-12 * scale for d in diffs):
        return "tie"
    p = float(wilcoxon(diffs, zero_method="zsplit").pvalue)
    if not p < ALPHA:
        return "tie"
    return "win" if statistics.median(diffs) < 0 or sum(diffs) < 0 else "loss"


def normalized(cell: Cell, baseline: Cell | None) -> float | None:
    """The median regret over the baseline's median (1: as good as random search)."""
    if baseline is None:
        return None
    return (cell.median + EPSILON) / (baseline.median + EPSILON)


def ranks(row: dict[str, Cell]) -> dict[str, float]:
    names = sorted(row)
    order = rankdata([row[n].median for n in names], method="average")
    return {n: float(r) for n, r in zip(names, order)}


@dataclass
class Standing:
    """One half (or all) of the suite after ``trials`` trials."""

    half: str
    trials: int
    problems: list[ProblemSummary]
    optimizers: list[str]
    subject: str

    @functools.cached_property
    def rows(self) -> list[tuple[ProblemSummary, dict[str, Cell]]]:
        """Each problem with its cells, read once: every table below is drawn from them."""
        return [(s, cells(s, self.trials)) for s in self.problems]

    def family_table(self) -> list[str]:
        """Per family: mean normalized regret and mean rank of each optimizer."""
        rows = self.rows
        families = sorted({s.problem.family for s, _ in rows})
        head = "| family (problems) | " + " | ".join(self.optimizers) + " |"
        lines = [head, "|---|" + "---|" * len(self.optimizers)]
        for family in [*families, "all"]:
            chosen = [(s, r) for s, r in rows if family in ("all", s.problem.family)]
            ranked = [ranks(r) for _, r in chosen]
            out = []
            for name in self.optimizers:
                norms = [
                    v
                    for _, r in chosen
                    if name in r and (v := normalized(r[name], r.get(BASELINE))) is not None
                ]
                rank = [order[name] for order in ranked if name in order]
                out.append(_pair(norms, rank))
            label = "**all**" if family == "all" else family
            lines.append(f"| {label} ({len(chosen)}) | " + " | ".join(out) + " |")
        return lines

    def mean_ranks(self) -> dict[str, float]:
        """Mean rank over the problems every listed optimizer ran (n/a excluded per problem)."""
        collected: dict[str, list[float]] = {n: [] for n in self.optimizers}
        for _, row in self.rows:
            for name, rank in ranks(row).items():
                if name in collected:
                    collected[name].append(rank)
        return {n: statistics.fmean(v) for n, v in collected.items() if v}

    def verdicts(self) -> dict[str, dict[str, int]]:
        """The subject's win/tie/loss count against each other optimizer."""
        out: dict[str, dict[str, int]] = {}
        for _, row in self.rows:
            if self.subject not in row:
                continue
            for name, cell in row.items():
                if name == self.subject:
                    continue
                tally = out.setdefault(name, {"win": 0, "tie": 0, "loss": 0})
                tally[compare(row[self.subject], cell)] += 1
        return out

    def against_best_peer(self) -> tuple[int, int, list[str]]:
        """How many problems the subject is at least as good as the best peer on, of how
        many, and the ones it is not.

        At least as good means no peer is significantly better, paired over seeds. Only
        the peer with the best median would let a peer run with fewer seeds (whose paired
        test can never be significant) hide a loss to another with a close median.
        """
        held, total, lost = 0, 0, []
        for summary, row in self.rows:
            peers = [c for n, c in row.items() if n != self.subject]
            if self.subject not in row or not peers:
                continue
            total += 1
            beaten_by = [c for c in peers if compare(row[self.subject], c) == "loss"]
            if not beaten_by:
                held += 1
            else:
                best = min(beaten_by, key=lambda c: c.median)
                lost.append(f"{summary.problem.name} (best peer {best.optimizer})")
        return held, total, lost

    def worse_than_baseline(self) -> list[str]:
        return [
            s.problem.name
            for s, row in self.rows
            if self.subject in row
            and BASELINE in row
            and compare(row[self.subject], row[BASELINE]) == "loss"
        ]


def _pair(norms: Sequence[float], rank: Sequence[float]) -> str:
    if not rank:
        return "-"
    norm = f"{_geomean(norms):.2f}" if norms else "-"
    return f"{norm} / {statistics.fmean(rank):.2f}"


def _geomean(values: Sequence[float]) -> float:
    return math.exp(statistics.fmean(math.log(max(v, EPSILON)) for v in values))


def standings(
    summaries: Sequence[ProblemSummary], optimizers: Sequence[str], subject: str
) -> list[Standing]:
    """Held-out first, then development, each at every ``READ_AT``."""
    out = []
    for half in HALVES:
        chosen = [s for s in summaries if s.problem.half == half]
        if not chosen:
            continue
        for trials in READ_AT:
            out.append(Standing(half, trials, chosen, list(optimizers), subject))
    return out


def markdown(summaries: Sequence[ProblemSummary], optimizers: Sequence[str], subject: str) -> str:
    """suite.md: the held-out half first, then development; per problem tables last."""
    lines = [
        "# The broad suite, by half",
        "",
        f"Regret after {' and '.join(map(str, READ_AT))} trials (several objectives: the "
        "hypervolume gap). Family cells: geometric mean over the family's problems of the "
        f"median regret normalized by {BASELINE}'s (below 1 beats it) / mean rank by median "
        f"regret (1 is best). Win/tie/loss: `{subject}` against each optimizer, paired over "
        f"seeds, two-sided Wilcoxon signed-rank at {ALPHA}: with five or fewer common seeds "
        "no difference can be significant (the smallest p-value is 0.0625), so every such "
        "verdict is a tie. At least as good as the best peer: no peer significantly "
        "better (a peer with five seeds cannot count as the best one and hide a loss to "
        "another).",
    ]
    for standing in standings(summaries, optimizers, subject):
        lines += ["", f"## {standing.half}, after {standing.trials} trials", ""]
        lines += standing.family_table()
        mean = standing.mean_ranks()
        if mean:
            order = sorted(mean, key=mean.__getitem__)
            lines += ["", "Mean rank: " + ", ".join(f"{n} {mean[n]:.2f}" for n in order) + "."]
        verdicts = standing.verdicts()
        if verdicts:
            lines += ["", f"| `{subject}` against | win | tie | loss |", "|---|---|---|---|"]
            for name, tally in verdicts.items():
                lines.append(f"| {name} | {tally['win']} | {tally['tie']} | {tally['loss']} |")
            held, total, lost = standing.against_best_peer()
            share = f"{held / total:.0%}" if total else "-"
            lines += [
                "",
                f"At least as good as the best peer on {held} of {total} problems ({share})"
                + (f"; behind on {', '.join(lost)}." if lost else "."),
            ]
            worse = standing.worse_than_baseline()
            lines.append(
                f"Significantly worse than {BASELINE} on "
                + (", ".join(worse) + "." if worse else "no problem.")
            )
    lines += ["", "## Per problem: median [25th, 75th percentile] regret", ""]
    for half in HALVES:
        chosen = [s for s in summaries if s.problem.half == half]
        if not chosen:
            continue
        lines += [
            "",
            f"### {half}",
            "",
            "| problem | family | optimizer | "
            + " | ".join(f"after {n}" for n in READ_AT)
            + " | runs |",
            "|---|---|---|" + "---|" * len(READ_AT) + "---|",
        ]
        for summary in chosen:
            per_budget = [cells(summary, n) for n in READ_AT]
            for name in optimizers:
                if name not in per_budget[0]:
                    continue
                spread = [_spread(row[name]) for row in per_budget]
                runs = len(per_budget[0][name].regrets)
                lines.append(
                    f"| {summary.problem.name} | {summary.problem.family} | {name} | "
                    + " | ".join(spread)
                    + f" | {runs} |"
                )
    return "\n".join(lines) + "\n"


def _spread(cell: Cell) -> str:
    low, high = cell.iqr
    return f"{cell.median:.3g} [{low:.3g}, {high:.3g}]"


def plot_profiles(
    summaries: Sequence[ProblemSummary], optimizers: Sequence[str], half: str, path: str
) -> None:
    """Performance profiles (Dolan and Moré) of one half at the full budget: per optimizer,
    the share of problems on which its median regret is within a factor tau of the best's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [cells(s, READ_AT[-1]) for s in summaries if s.problem.half == half]
    taus = np.logspace(0, 3, 200)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in optimizers:
        ratios = []
        for row in rows:
            if name not in row:
                continue
            best = min(c.median for c in row.values())
            ratios.append((row[name].median + EPSILON) / (best + EPSILON))
        if ratios:
            share = [(np.asarray(ratios) <= t).mean() for t in taus]
            ax.plot(taus, share, label=f"{name} ({len(ratios)} problems)")
    ax.set_xscale("log")
    ax.set_xlabel("tau: median regret within this factor of the best optimizer's")
    ax.set_ylabel("share of problems")
    ax.set_title(f"Performance profiles, {half} half, after {READ_AT[-1]} trials")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
