"""The dashboard in a real browser against a live server: every view shows the stored data."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.browser.conftest import Seeded, Watch, screenshot
from tests.support import seed

Page = tuple[Any, Watch]
VIEWS = ("history", "parallel", "importance", "slice", "pareto", "curves", "brackets")


def traces(tab: Any, view: str) -> list[dict[str, Any]]:
    """The Plotly traces drawn in a view, as plain data (x, y, type, name)."""
    return list(
        tab.evaluate(
            """(view) => (document.querySelector(`#plot-${view}`).data || []).map((t) => ({
                type: t.type, name: t.name, x: t.x || [], y: t.y || []}))""",
            view,
        )
    )


def wait_status(tab: Any, first: int, last: int, total: int) -> None:
    """Wait until the trial table says it shows rows ``first`` to ``last`` of ``total``."""
    text = f"{first}\u2013{last} of {total}"
    tab.wait_for_function(
        "(t) => document.querySelector('#trials-status').textContent === t", arg=text
    )


def first_number(tab: Any) -> str | None:
    value: str | None = tab.locator("#trials-table tbody tr").first.get_attribute("data-number")
    return value


def open_study(tab: Any, url: str, study_id: int, *, expect: tuple[str, ...]) -> None:
    tab.goto(f"{url}/#/studies/{study_id}")
    tab.wait_for_selector("#trials-table tbody tr[data-number]")
    for view in expect:
        tab.wait_for_function(
            "(v) => (document.querySelector(`#plot-${v}`).data || []).length > 0", arg=view
        )


def test_studies_list_shows_counts_best_and_searches(seeded: Seeded, page: Page) -> None:
    tab, _ = page
    tab.goto(f"{seeded.url}/")
    tab.wait_for_selector("#studies-table tbody tr[data-study-id]")
    rows = tab.locator("#studies-table tbody tr[data-study-id]")
    assert rows.count() == 3
    single = tab.locator(f'tr[data-study-id="{seeded.single.id}"]')
    cells = single.locator("td").all_inner_texts()
    assert cells[0] == "dash-single" and cells[1] == "random"
    states = [t.state for t in seeded.single.trials()]
    assert cells[3] == str(len(states)) == "41"  # 40 told and one running
    assert single.locator("td.state-failed").inner_text() == str(states.count("failed"))
    assert single.locator("td.state-completed").inner_text() == str(states.count("completed"))
    assert single.locator("td.state-running").inner_text() == "1"
    best = seeded.single.best_trial
    assert best is not None and best.values is not None
    assert abs(float(single.locator("td.best").inner_text()) - best.values["loss"]) < 1e-3
    multi = tab.locator(f'tr[data-study-id="{seeded.multi.id}"] td.best')
    assert "Pareto front" in multi.inner_text()
    screenshot(tab, "studies-list")

    tab.fill("#study-search", "fidel")
    tab.wait_for_function(
        "() => document.querySelectorAll('#studies-table tbody tr[data-study-id]').length === 1"
    )
    assert tab.locator("#studies-table tbody tr[data-study-id] a").inner_text() == "dash-fidelity"


def test_single_objective_views_plot_the_stored_trials(seeded: Seeded, page: Page) -> None:
    tab, _ = page
    study = seeded.single
    open_study(tab, seeded.url, study.id, expect=VIEWS[:5])
    completed = [t for t in study.trials() if t.state == "completed"]
    history = traces(tab, "history")
    assert sorted(history[0]["x"]) == sorted(t.number for t in completed)
    best_line = history[1]["y"]
    assert best_line == sorted(best_line, reverse=True)  # minimized: never worse
    assert abs(best_line[-1] - min(t.values["loss"] for t in completed if t.values)) < 1e-9
    parallel = traces(tab, "parallel")
    lines = sum(sum(1 for x in t["x"] if x is None) for t in parallel)
    assert lines == len(completed)
    gaps = sum(sum(1 for y in t["y"] if y is None) for t in parallel)
    assert gaps == lines  # an inactive parameter does not break a trial's line
    importance = traces(tab, "importance")
    assert sorted(importance[0]["y"]) == sorted(seed.SPACE)
    slices = traces(tab, "slice")
    assert [t["name"] for t in slices] == list(seed.SPACE)
    assert len(slices[0]["x"]) == len(completed)  # every trial has lr
    pareto = traces(tab, "pareto")  # cost was told: objective against cost
    assert {t["name"] for t in pareto} == {"dominated", "Pareto front"}
    assert len(pareto[0]["x"]) + len(pareto[1]["x"]) == len(completed)
    for view in ("curves", "brackets"):
        assert tab.locator(f"#view-{view}").is_hidden()
    for view in ("history", "parallel", "importance", "slice", "pareto"):
        screenshot(tab, f"single-{view}", f"#view-{view}")


def test_multi_objective_pareto_front_matches_the_server(seeded: Seeded, page: Page) -> None:
    tab, _ = page
    study = seeded.multi
    open_study(tab, seeded.url, study.id, expect=("history", "pareto"))
    front = traces(tab, "pareto")[1]
    server_front = study.pareto().trials
    assert sorted(front["x"]) == sorted(t.values["loss"] for t in server_front if t.values)
    tab.select_option("#objective", "latency_ms")
    tab.wait_for_function(
        "() => document.querySelector('#plot-history').layout.title.text.includes('latency_ms')"
    )
    screenshot(tab, "multi-pareto", "#view-pareto")
    screenshot(tab, "multi-history-latency", "#view-history")


def test_multi_fidelity_curves_and_brackets(seeded: Seeded, page: Page) -> None:
    tab, _ = page
    study = seeded.fidelity
    open_study(tab, seeded.url, study.id, expect=("curves", "brackets"))
    trials = study.trials()
    curves = traces(tab, "curves")
    assert len(curves) == len(trials)  # every trial reported its epochs
    for curve, trial in zip(curves, sorted(trials, key=lambda t: t.number)):
        parent = next((t for t in trials if t.id == trial.parent_id), None)
        start = int(parent.budget or 0) if parent is not None else 0
        assert curve["x"] == list(range(start + 1, int(trial.budget or 0) + 1))
    brackets = traces(tab, "brackets")
    assert {t["name"] for t in brackets} == {
        f"bracket {t.policy_meta['bracket']}" for t in trials if t.policy_meta
    }
    rows = tab.locator("#rungs-table tbody tr")
    per_rung: dict[tuple[int, int], int] = {}
    for t in trials:
        assert t.policy_meta is not None
        key = (t.policy_meta["bracket"], t.policy_meta["rung"])
        per_rung[key] = per_rung.get(key, 0) + 1
    assert rows.count() == len(per_rung)
    first = rows.nth(0).locator("td").all_inner_texts()
    assert int(first[3]) == per_rung[(int(first[0]), int(first[1]))]
    for view in ("history", "curves", "brackets"):
        screenshot(tab, f"fidelity-{view}", f"#view-{view}")


def test_trial_table_sorts_filters_and_pages_on_the_server(seeded: Seeded, page: Page) -> None:
    tab, _ = page
    study = seeded.single
    open_study(tab, seeded.url, study.id, expect=())
    wait_status(tab, 1, 41, 41)
    tab.select_option("#trials-size", "25")
    wait_status(tab, 1, 25, 41)
    tab.click("#trials-next")
    wait_status(tab, 26, 41, 41)
    assert first_number(tab) == "25"

    tab.click("th[data-sort=value] button")
    wait_status(tab, 1, 25, 41)
    best = study.best_trial
    assert best is not None
    assert first_number(tab) == str(best.number)
    tab.click("th[data-sort=value] button")  # descending: worst first, failed (no value) last
    tab.wait_for_function(
        "(n) => document.querySelector('#trials-table tbody tr').dataset.number !== n",
        arg=str(best.number),
    )
    completed = [t for t in study.trials() if t.values]
    worst = max(completed, key=lambda t: t.values["loss"])  # type: ignore[index]
    assert first_number(tab) == str(worst.number)

    failed = len(study.trials("failed"))
    assert failed >= 2
    tab.select_option("#trials-state", "failed")
    wait_status(tab, 1, failed, failed)
    rows = tab.locator("#trials-table tbody tr")
    assert {rows.nth(i).get_attribute("data-state") for i in range(rows.count())} == {"failed"}
    assert "RuntimeError: diverged" in rows.nth(0).locator("td.col-error").inner_text()
    screenshot(tab, "trial-table-failed", "#view-trials")


def test_csv_download_holds_every_trial(seeded: Seeded, page: Page) -> None:
    tab, _ = page
    study = seeded.single
    open_study(tab, seeded.url, study.id, expect=())
    with tab.expect_download() as info:
        tab.click("#download-csv")
    download = info.value
    assert download.suggested_filename == "dash-single.csv"
    with open(download.path(), newline="") as file:
        rows = list(csv.DictReader(io.StringIO(file.read())))
    stored = {t.number: t for t in study.trials()}
    assert len(rows) == len(stored)
    for row in rows:
        trial = stored[int(row["number"])]
        assert row["state"] == trial.state
        assert row["params_optimizer"] == trial.params["optimizer"]
        assert float(row["params_lr"]) == trial.params["lr"]
        if trial.values:
            assert float(row["values_loss"]) == trial.values["loss"]
            assert float(row["cost"]) == trial.cost
        if trial.state == "failed":
            assert "diverged" in row["error"]


def test_live_update_shows_a_trial_told_after_the_page_opened(seeded: Seeded, page: Page) -> None:
    tab, _ = page
    import tunehub

    with tunehub.Client(seeded.url) as client:
        study = client.create_study(name="dash-live", space=seed.SPACE, objectives="loss", seed=9)
        for _ in range(3):
            trial = study.ask()
            trial.tell(seed.loss_of(trial.params))
        open_study(tab, seeded.url, study.id, expect=("history",))
        assert len(traces(tab, "history")[0]["x"]) == 3
        trial = study.ask()
        trial.tell(-1.0)  # a new best, told while the page is open
    tab.wait_for_function(
        "() => (document.querySelector('#plot-history').data[0].x || []).length === 4",
        timeout=15_000,
    )
    assert traces(tab, "history")[1]["y"][-1] == -1.0
    tab.wait_for_selector(f'#trials-table tbody tr[data-number="{trial.number}"]')
    assert tab.locator(".badge[data-state=completed]").inner_text() == "completed 4"


def test_a_study_on_instances_shows_each_runs_instance_cutoff_and_timeout(
    seeded: Seeded, page: Page
) -> None:
    tab, _ = page
    import tunehub

    space = {"x": tunehub.Float(0.0, 1.0)}
    instances = {"train": ["small", "medium", "large"], "test": ["held-out"], "par": 10}
    with tunehub.Client(seeded.url) as client:
        study = client.create_study(
            name="dash-instances",
            space=space,
            objectives="runtime",
            policy="ac-race",
            instances=instances,
            cutoff=2.0,
            seed=4,
        )
        told = []
        for k in range(4):
            trial = study.ask()
            if k == 1:
                trial.timeout()
            else:
                trial.tell(0.1 + k / 10)
            told.append(trial)
    open_study(tab, seeded.url, study.id, expect=())
    headers = tab.locator("#trials-table thead th").all_inner_texts()
    assert headers[4:7] == ["instance", "cutoff", "timed out"], headers
    for trial in told:
        row = tab.locator(f'#trials-table tbody tr[data-number="{trial.number}"]')
        assert row.locator("td.col-instance").inner_text() == trial.instance
        cutoff = float(row.locator("td.col-cutoff").inner_text())
        assert cutoff == (trial.info.cutoff or 2.0)
    late = tab.locator(f'#trials-table tbody tr[data-number="{told[1].number}"]')
    assert late.locator("td.col-timed-out").inner_text() == "timed out"
    stored = study.trials()
    par10 = 10 * (told[1].info.cutoff or 2.0)  # its own cutoff when the race capped it
    assert next(t for t in stored if t.number == told[1].number).values == {"runtime": par10}
    assert [t.number for t in stored if t.timed_out] == [told[1].number]
    tab.click("th[data-sort=timed_out] button")  # ascending: false first
    tab.click("th[data-sort=timed_out] button")  # descending: the timeout first
    tab.wait_for_function(
        "(n) => document.querySelector('#trials-table tbody tr').dataset.number === n",
        arg=str(told[1].number),
    )
    screenshot(tab, "trial-table-instances", "#view-trials")
    with tab.expect_download() as info:
        tab.click("#download-csv")
    with open(info.value.path(), newline="") as file:
        rows = {int(r["number"]): r for r in csv.DictReader(io.StringIO(file.read()))}
    for trial in told:
        assert rows[trial.number]["instance"] == trial.instance
        assert float(rows[trial.number]["cutoff"]) == (trial.info.cutoff or 2.0)
    assert [n for n, r in rows.items() if r["timed_out"] == "true"] == [told[1].number]
