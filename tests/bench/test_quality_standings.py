"""The suite's verdicts follow from the runs: ranks, normalized regret, paired tests, halves."""

from __future__ import annotations

import dataclasses

import pytest

from bench.quality.harness import OK, Results, Run
from bench.quality.merge import labelled
from bench.quality.problems import get_problem
from bench.quality.split import DEVELOPMENT, HELD_OUT
from bench.quality.standings import Cell, compare, markdown, normalized, ranks, standings
from bench.quality.summary import summarize
from bench.quality.trials import Trial

SEEDS = list(range(10))


def _run(problem: str, optimizer: str, seed: int, values: list[float]) -> Run:
    trials = [Trial({"x1": 0.0, "x2": 0.0}, {"f": v}, 0.0) for v in values]
    return Run(problem, optimizer, seed, len(values), OK, trials=trials)


def test_paired_comparisons_need_a_consistent_difference_over_seeds() -> None:
    better = Cell("a", {s: 0.1 * (s + 1) for s in SEEDS})
    worse = Cell("b", {s: 0.1 * (s + 1) + 1.0 for s in SEEDS})
    assert compare(better, worse) == "win"
    assert compare(worse, better) == "loss"
    mixed = Cell("c", {s: 0.1 * (s + 1) + (0.5 if s % 2 else -0.5) for s in SEEDS})
    assert compare(better, mixed) == "tie"
    assert compare(better, better) == "tie"
    five = Cell("d", {s: 0.1 * (s + 1) + 1.0 for s in range(5)})
    assert compare(better, five) == "tie"  # five pairs can never reach p < 0.05 two-sided


def test_a_peer_with_few_seeds_cannot_hide_a_loss_to_another() -> None:
    problem = dataclasses.replace(get_problem("branin"), name="h", half=HELD_OUT, family="x")
    runs = []
    for seed in SEEDS:
        runs.append(_run("h", "tunehub-gp", seed, [1.0 + 0.01 * seed] * 50))
        runs.append(_run("h", "tpe", seed, [0.5 + 0.01 * seed] * 50))
        if seed < 5:  # best median, but five pairs are always a tie
            runs.append(_run("h", "few", seed, [0.4 + 0.01 * seed] * 50))
    results = Results([problem], ["tunehub-gp", "tpe", "few"], SEEDS, 1.0, 1, runs, 0.0)
    final = standings(summarize(results), results.optimizers, "tunehub-gp")[1]
    assert final.verdicts()["few"]["tie"] == 1 and final.verdicts()["tpe"]["loss"] == 1
    assert final.against_best_peer() == (0, 1, ["h (best peer tpe)"])


def test_ranks_share_ties_and_normalizing_by_random_reads_one_for_random() -> None:
    row = {
        "a": Cell("a", {0: 1.0}),
        "b": Cell("b", {0: 1.0}),
        "random": Cell("random", {0: 4.0}),
    }
    assert ranks(row) == {"a": 1.5, "b": 1.5, "random": 3.0}
    assert normalized(row["a"], row["random"]) == pytest.approx(0.25)
    assert normalized(row["random"], row["random"]) == 1.0


def test_standings_report_the_held_out_half_first_with_its_own_problems() -> None:
    held = dataclasses.replace(get_problem("branin"), name="h", half=HELD_OUT, family="x")
    dev = dataclasses.replace(get_problem("branin"), name="d", half=DEVELOPMENT, family="x")
    runs = []
    for problem in ("h", "d"):
        for seed in SEEDS:
            gp_values = [5.0] * 10 + [0.4 + 0.001 * seed] * 40
            runs.append(_run(problem, "tunehub-gp", seed, gp_values))
            runs.append(_run(problem, "random", seed, [5.0] * 45 + [1.0 + 0.01 * seed] * 5))
    results = Results([held, dev], ["tunehub-gp", "random"], SEEDS, 1.0, 1, runs, 0.0)
    summaries = summarize(results)
    order = [(s.half, s.trials) for s in standings(summaries, results.optimizers, "tunehub-gp")]
    assert order == [(HELD_OUT, 20), (HELD_OUT, 50), (DEVELOPMENT, 20), (DEVELOPMENT, 50)]
    final = standings(summaries, results.optimizers, "tunehub-gp")[1]
    assert [s.problem.name for s in final.problems] == ["h"]
    assert final.verdicts() == {"random": {"win": 1, "tie": 0, "loss": 0}}
    assert final.against_best_peer() == (1, 1, [])
    assert final.mean_ranks() == {"tunehub-gp": 1.0, "random": 2.0}
    text = markdown(summaries, results.optimizers, "tunehub-gp")
    assert text.index("## held-out, after 20 trials") < text.index("## development, after 20")
    assert "Significantly worse than random on no problem." in text


def test_a_label_tells_two_versions_of_a_policy_apart_and_leaves_peers_alone() -> None:
    runs = [_run("branin", "tunehub-gp", 0, [1.0]), _run("branin", "random", 0, [2.0])]
    results = Results([get_problem("branin")], ["tunehub-gp", "random"], [0], 1.0, 1, runs, 0.0)
    out = labelled(results, "before")
    assert out.optimizers == ["tunehub-gp@before", "random"]
    assert [r.optimizer for r in out.runs] == ["tunehub-gp@before", "random"]


ARCHIVES = (
    "peers-random-tpe-cmaes.jsonl.gz",
    "optunagp-development.jsonl.gz",
    "optunagp-held-out.jsonl.gz",
    "hyperopt-held-out.jsonl.gz",
    "logistic-rerun.jsonl.gz",
    "smac-held-out.jsonl.gz",
    "ax-held-out.jsonl.gz",
    "gp-center5-development.jsonl.gz",
    "gp-center5-development-mo.jsonl.gz",
    "gp-center5-held-out.jsonl.gz",
)


def _standings_text(names: list[str]) -> str:
    """The suite's report of the committed archives ``names`` (``NAME@LABEL`` labels one)."""
    from bench.quality.merge import load_results
    from bench.quality.report import SUBJECT
    from tests.support.bench import ROOT

    folder = ROOT / "bench" / "figures" / "quality"
    results = load_results([folder / name for name in names], progress=lambda line: None)
    return markdown(summarize(results), results.optimizers, SUBJECT)


def _readme_quality_section() -> str:
    from tests.support.bench import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Quality: `bench/quality`") :]
    return section[: section.index("\n### ", 1)]


def test_the_committed_archives_give_the_readme_mean_ranks() -> None:
    """The README's mean ranks of the broad suite come from the committed runs."""
    lines = _standings_text(list(ARCHIVES)).splitlines()
    quoted = [
        line for line in _readme_quality_section().splitlines() if line.startswith("Mean rank: ")
    ]
    assert len(quoted) == 4  # each half, after 20 and after 50 trials
    for line in quoted:
        assert line in lines


EARLIER_DESIGN = "tunehub-gp@sobol2d"
"""The runs of ``gp`` with ``max(5, 2 x parameters)`` Sobol' trials first, labelled apart."""


def test_the_initial_designs_figures_on_both_halves_come_from_the_committed_runs() -> None:
    """The README's comparison of the centre-first initial design with the earlier one, with
    every peer, on each half."""
    text = _standings_text(
        [
            *ARCHIVES,
            "gp-sobol2d-held-out.jsonl.gz@sobol2d",
            "gp-sobol2d-development.jsonl.gz@sobol2d",
        ]
    )
    held_out, development = text.split("## development, after 20 trials")
    held_20, held_50 = held_out.split("## held-out, after 50 trials")
    assert f"Mean rank: ax 2.76, tunehub-gp 2.77, {EARLIER_DESIGN} 3.40," in held_20
    assert f"Mean rank: {EARLIER_DESIGN} 3.02, tunehub-gp 3.03, ax 3.38," in held_50
    assert f"Mean rank: tunehub-gp 2.43, {EARLIER_DESIGN} 2.60," in development
    assert f"Mean rank: tunehub-gp 2.34, {EARLIER_DESIGN} 2.46," in development
    # each all-problems row ends with the new design's cell, then the earlier one's:
    # geometric mean of median regret over random's / mean rank
    at_20, at_50 = development.split("## development, after 50 trials")
    for part, cells in (
        (held_20, "| 0.04 / 2.77 | 0.23 / 3.40 |"),
        (held_50, "| 0.02 / 3.03 | 0.08 / 3.02 |"),
        (at_20, "| 0.05 / 2.43 | 0.17 / 2.60 |"),
        (at_50, "| 0.00 / 2.34 | 0.03 / 2.46 |"),
    ):
        row = next(line for line in part.splitlines() if line.startswith("| **all**"))
        assert row.endswith(cells), row
    readme = " ".join(_readme_quality_section().split())
    assert (
        "went from 0.23 to 0.04 after 20 trials (mean rank among the nine optimizers 3.40 to 2.77)"
        in readme
    )
    assert (
        "from 0.17 to 0.05 after 20 trials (mean rank among the six optimizers there 2.60 to 2.43)"
        in readme
    )
    assert "from 0.08 to 0.02 after 50 (mean rank 3.02 to 3.03)" in readme
    assert "from 0.03 to below 0.005 after 50 (mean rank 2.46 to 2.34)" in readme
