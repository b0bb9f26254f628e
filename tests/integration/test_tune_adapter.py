"""Ray Tune running trials whose configurations come from a Tunehub study."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tunehub
from tests.support.server import live_server

ray = pytest.importorskip("ray")
tune = pytest.importorskip("ray.tune")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("tune-server")
    with live_server(f"sqlite:///{folder / 'tunehub.db'}") as server_url:
        yield server_url


def trainable(config: dict[str, Any]) -> None:
    x = float(config["x"])
    for step in range(1, 4):
        tune.report({"loss": (x - 0.25) ** 2 + 1.0 / step})


def test_a_tuner_uses_the_study_and_its_results_land_there(url: str, tmp_path: Path) -> None:
    from tunehub.workers.tune import TunehubSearch

    with tunehub.Client(url) as client:
        study = client.create_study(
            name="tune", space={"x": tunehub.Float(0.0, 1.0)}, policy="sobol", seed=1
        )
        search = TunehubSearch(client, "tune")
        assert pickle.loads(pickle.dumps(search))._study.id == study.id
        ray.init(num_cpus=2, include_dashboard=False)
        try:
            results = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(search_alg=search, num_samples=10),
                run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
            ).fit()
        finally:
            ray.shutdown()
        assert not results.errors
        trials = study.trials()
        assert len(trials) == 10
        assert all(t.state == tunehub.TrialState.COMPLETED for t in trials), trials
        by_x = {round(float(t.params["x"]), 12): t for t in trials}  # type: ignore[arg-type]
        for result in results:
            x = round(float(result.config["x"]), 12)
            assert by_x[x].values == {"loss": pytest.approx(result.metrics["loss"])}
        reports = client.request("GET", f"/trials/{trials[0].id}/reports")
        assert [r["step"] for r in reports] == [1, 2, 3]
        best = study.best_trial
        assert best is not None and best.values is not None
        assert best.values["loss"] == min(r.metrics["loss"] for r in results)
