"""The dashboard's "Download CSV", run in Chromium against a live server: a stored name or
value that a spreadsheet would run as a formula gets a leading quote, numbers stay
numbers, and header cells built from parameter names are quoted like any other cell."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest

import tunehub
from tests.browser.conftest import Watch
from tests.support.server import live_server
from tests.support.spreadsheet import is_number

Page = tuple[Any, Watch]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PARAM = 'lr,"x"\nnext'  # a comma, quotes and a newline: the header cell must be quoted
CATEGORICAL = "k\rv"
FORMULA_CHOICE = "=cmd|' /C calc'!A0"
OBJECTIVE = 'loss,"y"'
WORKER = "@w"
ERROR = "-1+2 diverged"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tunehub.Study]:
    folder = tmp_path_factory.mktemp("csv")
    with (
        live_server(f"sqlite:///{folder / 'csv.db'}", log=folder / "server.log") as url,
        tunehub.Client(url) as client,
    ):
        study = client.create_study(
            name="csv-escaping",
            space={
                PARAM: tunehub.Float(-1, 1),
                CATEGORICAL: tunehub.Categorical([FORMULA_CHOICE, "+1", "plain"]),
            },
            objectives=OBJECTIVE,
        )
        for low, choice in [(-0.25, FORMULA_CHOICE), (0.5, "+1"), (-0.75, "plain")]:
            study.enqueue({PARAM: low, CATEGORICAL: choice})
        study.ask(worker=WORKER).tell(-0.5)
        study.ask(worker=WORKER).tell(1.5)
        study.ask(worker="plain").fail(ERROR)
        yield study


def server_url(study: tunehub.Study) -> str:
    return str(study.client.url)


def test_download_csv_neutralizes_formulas_and_quotes_headers(
    study: tunehub.Study, page: Page
) -> None:
    tab, _ = page
    tab.goto(f"{server_url(study)}/#/studies/{study.id}")
    tab.wait_for_selector("#trials-table tbody tr[data-number]")
    with tab.expect_download() as info:
        tab.click("#download-csv")
    with open(info.value.path(), newline="") as file:
        text = file.read()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = rows[0]
    assert header[:4] == ["number", "state", f"params_{PARAM}", f"params_{CATEGORICAL}"]
    assert header[4] == f"values_{OBJECTIVE}"
    assert all(len(row) == len(header) for row in rows)
    by_number = {row[0]: dict(zip(header, row)) for row in rows[1:]}
    first, second, failed = by_number["0"], by_number["1"], by_number["2"]
    assert first[f"params_{CATEGORICAL}"] == "'" + FORMULA_CHOICE
    assert second[f"params_{CATEGORICAL}"] == "'+1"
    assert failed[f"params_{CATEGORICAL}"] == "plain"
    assert first[f"params_{PARAM}"] == "-0.25" and failed[f"params_{PARAM}"] == "-0.75"
    assert first[f"values_{OBJECTIVE}"] == "-0.5" and second[f"values_{OBJECTIVE}"] == "1.5"
    assert first["worker"] == second["worker"] == "'" + WORKER and failed["worker"] == "plain"
    assert failed["error"] == "'" + ERROR
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_START) or is_number(cell), repr(cell)


def test_to_csv_escapes_every_formula_start_and_quotes_headers(
    study: tunehub.Study, page: Page
) -> None:
    """table.js's ``toCsv`` as the page loads it, on cells the server would not produce
    (a tab or carriage return at the start, a header with every character CSV quotes)."""
    tab, _ = page
    tab.goto(f"{server_url(study)}/")
    tab.wait_for_selector("#studies-table")
    names = ["=a", "+b", "-c", "@d", "\te", "\rf", 'g,"h"\ni', "j\rk"]
    text = tab.evaluate(
        """async (names) => {
            const { toCsv } = await import("/dashboard/table.js");
            const study = {
                space: Object.fromEntries(names.map((n) => [n, {}])),
                objectives: [{ name: "loss" }],
            };
            const trial = {
                number: 0, state: "completed", params: Object.fromEntries(names.map((n) => [n, n])),
                values: { loss: -0.5 }, cost: -1, budget: null, worker: "=w", error: "@e",
                started_at: null, finished_at: null,
            };
            return toCsv(study, [trial]);
        }""",
        names,
    )
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header, row = rows
    fixed = ["cost", "budget", "worker", "started_at", "finished_at", "duration_s", "error"]
    assert header == ["number", "state", *(f"params_{n}" for n in names), "values_loss", *fixed]
    cells = dict(zip(header, row))
    for name in names:
        expected = "'" + name if name.startswith(FORMULA_START) else name
        assert cells[f"params_{name}"] == expected, repr(name)
    assert cells["values_loss"] == "-0.5" and cells["cost"] == "-1"
    assert cells["worker"] == "'=w" and cells["error"] == "'@e"
