"""One convergence plot per problem: median gap to the optimum per trial, IQR shaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.quality.metrics import gap
from bench.quality.summary import ProblemSummary


def plot_problem(summary: ProblemSummary, path: Path) -> None:
    """Best-so-far regret (or hypervolume gap) vs trial, one line per optimizer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    smallest_positive = np.inf
    any_zero = False
    drew = False
    for entry in summary.entries:
        if not entry.traces:
            continue
        gaps = np.array([gap(t, summary.scoring) for t in entry.traces], dtype=float)
        q25, median, q75 = np.percentile(gaps, [25, 50, 75], axis=0)
        steps = np.arange(1, gaps.shape[1] + 1)
        (line,) = ax.plot(steps, median, label=f"{entry.optimizer} (n={len(entry.traces)})")
        ax.fill_between(steps, q25, q75, color=line.get_color(), alpha=0.2, linewidth=0)
        positive = gaps[gaps > 0]
        if positive.size:
            smallest_positive = min(smallest_positive, float(positive.min()))
        any_zero = any_zero or bool((gaps <= 0).any())
        drew = True
    if drew and np.isfinite(smallest_positive):
        if any_zero:
            # Runs that reach the reference exactly sit at 0, which a log axis cannot show.
            ax.set_yscale("symlog", linthresh=smallest_positive)
        else:
            ax.set_yscale("log")
    metric = "hypervolume gap" if summary.scoring.higher_is_better else "regret"
    ax.set_xlabel("trial")
    ax.set_ylabel(f"best-so-far {metric} (median, IQR)")
    ax.set_title(f"{summary.problem.name}: {summary.problem.description}", fontsize=10)
    if summary.scoring.note:
        ax.text(0.01, 0.01, summary.scoring.note, transform=ax.transAxes, fontsize=7)
    if drew:
        ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
