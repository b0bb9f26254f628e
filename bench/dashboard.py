"""How fast the dashboard's study page becomes usable on a study with 10,000 trials.

    python -m bench.dashboard [--trials 10000] [--runs 5]

A live server on SQLite holds one study of ``--trials`` completed trials (with
costs, a failure every 50th, and learning curves on the last 200), seeded
through the HTTP API. Debian's Chromium then opens the study page ``--runs``
times in fresh tabs and records, from navigation: the trial table's first rows
(the page is usable), the history plot, and every plot drawn. The studies list
is timed the same way. Writes ``bench/results/dashboard.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.server_process import tunehub_server

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SPACE = {
    "lr": {"type": "float", "low": 1e-5, "high": 1.0, "log": True},
    "width": {"type": "int", "low": 16, "high": 1024, "log": True},
    "dropout": {"type": "float", "low": 0.0, "high": 0.6},
    "optimizer": {"type": "categorical", "choices": ["adam", "sgd", "rmsprop"]},
    "batch": {"type": "int", "low": 16, "high": 512},
    "decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True},
}


def seed_study(url: str, trials: int) -> int:
    """One study of ``trials`` finished trials, told through the API by 8 client threads."""
    with httpx.Client(base_url=f"{url}/api/v1", timeout=60) as api:
        study = api.post(
            "/studies",
            json={
                "name": f"dashboard-{trials}",
                "space": SPACE,
                "objectives": [{"name": "loss", "direction": "minimize"}],
                "seed": 0,
            },
        ).json()
        done = 0
        with ThreadPoolExecutor(max_workers=8) as pool:
            while done < trials:
                batch = api.post(
                    f"/studies/{study['id']}/ask", json={"count": min(1000, trials - done)}
                ).json()["trials"]
                list(pool.map(lambda trial: _finish(api, trial, trials), batch))
                done += len(batch)
        return int(study["id"])


def _finish(api: httpx.Client, trial: dict[str, Any], trials: int) -> None:
    """Report a learning curve (the last 200 trials only) and tell the result or a failure."""
    p = trial["params"]
    loss = (
        (math.log10(p["lr"]) + 3) ** 2 + p["dropout"] + random.Random(trial["number"]).gauss(0, 0.1)
    )
    if trial["number"] >= trials - 200:
        for step in range(1, 21):
            body = {"step": step, "values": {"loss": loss + 3 / step}}
            api.post(f"/trials/{trial['id']}/reports", json=body)
    if trial["number"] % 50 == 49:
        outcome: dict[str, Any] = {"state": "failed", "error": "RuntimeError: diverged"}
    else:
        outcome = {"values": {"loss": loss}, "cost": p["width"] * p["batch"] / 1e4}
    api.post(f"/trials/{trial['id']}/tell", json=outcome).raise_for_status()


def time_page(browser: Any, url: str, marks: dict[str, str]) -> dict[str, float]:
    """Seconds from navigation until each mark's JavaScript condition holds."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    started = time.perf_counter()
    tab.goto(url)
    out: dict[str, float] = {}
    for name, condition in marks.items():
        tab.wait_for_function(condition, timeout=120_000, polling=20)
        out[name] = time.perf_counter() - started
    context.close()
    if errors:
        raise RuntimeError(f"console errors: {errors}")
    return out


def plotted(view: str) -> str:
    """A condition that holds once the view's plot has traces."""
    return f"() => (document.querySelector('#plot-{view}')?.data || []).length > 0"


VIEWS = ("history", "parallel", "slice", "pareto", "curves", "importance")
STUDY_MARKS = {
    "table rows": "() => document.querySelectorAll('#trials-table tbody tr[data-number]').length",
    "history plot": plotted("history"),
    "all plots": f"() => {json.dumps(VIEWS)}.every((v) => "
    "(document.querySelector(`#plot-${v}`)?.data || []).length > 0)",
}
LIST_MARKS = {
    "studies table": "() => document.querySelector('#studies-table td.best')?.textContent",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench/results/dashboard.json"))
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory() as folder,
        tunehub_server(f"sqlite:///{Path(folder) / 'dash.db'}") as url,
    ):
        started = time.perf_counter()
        study_id = seed_study(url, args.trials)
        print(f"seeded {args.trials} trials in {time.perf_counter() - started:.0f} s")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = f"{url}/#/studies/{study_id}"
            time_page(browser, page, STUDY_MARKS)  # warm the server's and browser's caches
            study_runs = [time_page(browser, page, STUDY_MARKS) for _ in range(args.runs)]
            list_runs = [time_page(browser, f"{url}/", LIST_MARKS) for _ in range(args.runs)]
            browser.close()
    medians = {
        **{k: statistics.median(r[k] for r in study_runs) for k in STUDY_MARKS},
        **{k: statistics.median(r[k] for r in list_runs) for k in LIST_MARKS},
    }
    result = {"trials": args.trials, "runs": args.runs, "median_seconds": medians}
    result["study_page"], result["studies_list"] = study_runs, list_runs
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"| page, {args.trials} trials | until | median s over {args.runs} runs |")
    print("|---|---|---:|")
    for name, seconds in medians.items():
        page = "studies list" if name in LIST_MARKS else "study page"
        print(f"| {page} | {name} | {seconds:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
