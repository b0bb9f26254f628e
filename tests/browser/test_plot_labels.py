"""Names and values stored by anyone with a write key reach the dashboard's Plotly figures
(titles, axes, ticks, legends, hover labels, annotations). Plotly reads a subset of HTML in
such text: every one must show literally, never as a link, a styled span or a line break."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import tunehub
from tests.browser.conftest import Watch, screenshot
from tests.support.server import live_server

Page = tuple[Any, Watch]

LINK = '<a href="https://evil.example/x">A</a>'
BOLD = "<b>B</b>"
RED = '<span style="color:red">C</span>'
BREAK = "<br>"
PAYLOADS = (LINK, BOLD, RED, BREAK)

# Every name the server keeps carries markup; the two objectives carry every payload.
LOSS = f"loss {LINK} {BOLD}"
SPEED = f"speed {RED} {BREAK}"
RATE = f"rate {LINK}"
DEPTH = f"depth {BOLD} {BREAK}"
KIND = f"kind {RED}"
CHOICES = [f"adam {LINK}", BOLD, RED, f"x{BREAK}y"]
LIMIT = f"memory {RED} {BOLD}"
EPOCHS = f"epochs {BOLD} {LINK}"
SPACE = {
    RATE: tunehub.Float(1e-3, 1.0, log=True),
    DEPTH: tunehub.Int(1, 6),
    KIND: tunehub.Categorical(CHOICES),
}

MULTI_VIEWS = ("history", "parallel", "importance", "slice", "pareto")
FIDELITY_VIEWS = ("history", "parallel", "importance", "slice", "pareto", "curves", "brackets")


@dataclass
class Studies:
    url: str
    multi: tunehub.Study
    fidelity: tunehub.Study


def value_of(params: dict[str, Any]) -> float:
    rate, depth = float(params[RATE]), int(params[DEPTH])
    return (math.log10(rate) + 1.5) ** 2 + 0.1 * depth + CHOICES.index(params[KIND]) * 0.2


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studies]:
    folder = tmp_path_factory.mktemp("labels")
    with (
        live_server(f"sqlite:///{folder / 'labels.db'}", log=folder / "server.log") as url,
        tunehub.Client(url) as client,
    ):
        multi = client.create_study(
            name="labels-multi",
            space=SPACE,
            objectives=[
                {"name": LOSS, "direction": "minimize"},
                {"name": SPEED, "direction": "maximize"},
            ],
            constraints=[{"name": LIMIT, "op": "<=", "bound": 4.0}],
            seed=5,
        )
        for choice in CHOICES:  # every choice shows on the categorical axes
            multi.enqueue({RATE: 0.1, DEPTH: 2, KIND: choice})
        for _ in range(16):
            trial = multi.ask()
            loss = value_of(trial.params)
            trial.tell(
                {LOSS: loss, SPEED: 10.0 / (1.0 + loss) + trial.params[DEPTH]},
                metrics={LIMIT: float(trial.params[DEPTH])},
            )

        fidelity = client.create_study(
            name="labels-fidelity",
            space=SPACE,
            objectives=LOSS,
            constraints=[{"name": LIMIT, "op": "<=", "bound": 4.0}],
            policy="hyperband",
            fidelity={"name": EPOCHS, "min": 1, "max": 9, "eta": 3},
            seed=6,
        )
        rng = random.Random(6)
        for _ in range(24):
            trial = fidelity.ask()
            assert trial.budget is not None
            parent = trial.parent
            start = int(parent.budget or 0) if parent is not None else 0
            value = floor = value_of(trial.params)
            for epoch in range(start + 1, int(trial.budget) + 1):
                value = floor + 2.0 / epoch + rng.uniform(0, 0.05)
                trial.report(epoch, value)
            trial.tell(value, metrics={LIMIT: float(trial.params[DEPTH])}, cost=trial.budget)
        yield Studies(url, multi, fidelity)


def open_study(tab: Any, url: str, study_id: int, views: tuple[str, ...]) -> None:
    tab.goto(f"{url}/#/studies/{study_id}")
    tab.wait_for_selector("#trials-table tbody tr[data-number]")
    for view in views:
        tab.wait_for_function(
            """(v) => {
                const plot = document.querySelector(`#plot-${v}`);
                return (plot.data || []).length > 0 && plot.querySelector('.main-svg') !== null;
            }""",
            arg=view,
        )


def plot_texts(tab: Any, view: str) -> list[str]:
    """The text Plotly drew in a view's SVG (titles, ticks, legend, annotations)."""
    return list(
        tab.evaluate(
            """(v) => [...document.querySelectorAll(`#plot-${v} svg text`)]
                .map((t) => t.textContent)""",
            view,
        )
    )


def markup_found(tab: Any) -> dict[str, list[str]]:
    """Elements the stored markup would have created, anywhere on the page (SVG included)."""
    found: dict[str, list[str]] = tab.evaluate(
        """() => {
            const html = (nodes) => [...nodes].map((n) => n.outerHTML.slice(0, 200));
            const red = /(^|[;\\s])(color|fill)\\s*:\\s*red\\b/i;
            const evil = 'a[*|href*="evil.example"], a[href*="evil.example"]';
            return {
                links: html(document.querySelectorAll(evil)),
                red: html([...document.querySelectorAll('[style]')].filter(
                    (n) => red.test(n.getAttribute('style')))),
                bold: html([...document.querySelectorAll('svg tspan[style]')].filter(
                    (n) => /font-weight\\s*:\\s*bold/i.test(n.getAttribute('style')))),
            };
        }"""
    )
    return found


def hover_history(tab: Any) -> str:
    """Move the mouse onto a point of the history plot; the hover label's text."""
    point = tab.locator("#plot-history .scatterlayer .trace").first.locator(".points path").first
    box = point.bounding_box()
    assert box is not None
    tab.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    label = tab.locator("#plot-history .hoverlayer .hovertext")
    label.first.wait_for()
    return " ".join(label.all_text_contents())


def check_page(tab: Any, views: tuple[str, ...]) -> None:
    assert markup_found(tab) == {"links": [], "red": [], "bold": []}
    for view in views:
        texts = " ".join(plot_texts(tab, view))
        shown = [p for p in PAYLOADS if p in texts]
        assert shown, f"{view}: no stored name shown literally in {texts[:400]!r}"
    everything = " ".join(t for view in views for t in plot_texts(tab, view))
    for payload in PAYLOADS:
        assert payload in everything, payload


def test_multi_objective_plots_show_names_and_choices_literally(
    studies: Studies, page: Page
) -> None:
    tab, _ = page
    open_study(tab, studies.url, studies.multi.id, MULTI_VIEWS)
    check_page(tab, MULTI_VIEWS)
    assert LOSS in " ".join(plot_texts(tab, "pareto"))
    assert SPEED in " ".join(plot_texts(tab, "pareto"))
    slices = " ".join(plot_texts(tab, "slice"))
    assert all(choice in slices for choice in CHOICES)  # categorical tick labels
    parallel = " ".join(plot_texts(tab, "parallel"))
    assert all(choice in parallel for choice in CHOICES) and KIND in parallel
    hover = hover_history(tab)
    assert RATE in hover and KIND in hover, hover
    assert markup_found(tab) == {"links": [], "red": [], "bold": []}
    # The numbers stay numbers: the history's x and y are what was told.
    told = [t for t in studies.multi.trials() if t.values]
    ys = tab.evaluate("() => document.querySelector('#plot-history').data[0].y")
    assert sorted(ys) == sorted(t.values[LOSS] for t in told)  # type: ignore[index]
    for view in MULTI_VIEWS:
        screenshot(tab, f"labels-multi-{view}", f"#view-{view}")


def test_fidelity_plots_show_names_literally(studies: Studies, page: Page) -> None:
    tab, _ = page
    open_study(tab, studies.url, studies.fidelity.id, FIDELITY_VIEWS)
    check_page(tab, FIDELITY_VIEWS)
    for view in ("curves", "brackets"):
        assert EPOCHS in " ".join(plot_texts(tab, view)), view
    assert EPOCHS in " ".join(plot_texts(tab, "history"))  # colour bar and legend
    hover = hover_history(tab)
    assert RATE in hover and DEPTH in hover, hover
    assert markup_found(tab) == {"links": [], "red": [], "bold": []}
    for view in FIDELITY_VIEWS:
        screenshot(tab, f"labels-fidelity-{view}", f"#view-{view}")
