"""A Ray Tune search algorithm backed by a Tunehub study.

``tune.Tuner(trainable, tune_config=tune.TuneConfig(search_alg=TunehubSearch(client,
"study"), num_samples=100))`` lets Ray Tune run the trainables while the study's
policy proposes the configurations and keeps every result. The search space is
the study's (leave ``param_space`` empty); results with the objective are
forwarded as intermediate reports, and the last one is told when the trial ends.
Searcher state is the server's, so a resumed experiment loses nothing: the
saved state is only which Tune trial is which Tunehub trial.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any, TypeGuard

from ray.tune.search import Searcher

from tunehub.client import Client
from tunehub.errors import ConflictError
from tunehub.schema import Direction, StudyOut, TrialOut
from tunehub.study import Study, Trial


class TunehubSearch(Searcher):  # type: ignore[misc]
    def __init__(
        self,
        client: Client | str,
        study: str | int,
        *,
        step_key: str = "training_iteration",
        worker: str | None = None,
    ) -> None:
        self._client = client if isinstance(client, Client) else Client(client)
        self._study: Study = self._client.get_study(study)
        objectives = self._study.info.objectives
        metric: str | list[str] = [o.name for o in objectives]
        mode: str | list[str] = [_mode(o.direction) for o in objectives]
        if len(objectives) == 1:
            metric, mode = objectives[0].name, _mode(objectives[0].direction)
        super().__init__(metric=metric, mode=mode)  # type: ignore[arg-type]  # lists: several
        self._names = [o.name for o in objectives]
        self._step_key = step_key
        self._worker = worker
        self._trials: dict[str, Trial] = {}

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        if config:
            raise ValueError(
                "TunehubSearch takes its search space from the study: leave the Tuner's "
                "param_space empty"
            )
        if metric is not None and metric not in self._names:
            raise ValueError(
                f"metric {metric!r} is not an objective of study {self._study.name!r}; "
                f"its objectives are {self._names}"
            )
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        trials = self._study.ask_batch(1, worker=self._worker)
        if not trials:
            return None  # the policy has nothing now (e.g. waiting for results): Tune asks again
        self._trials[trial_id] = trials[0]
        return dict(trials[0].params)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        trial = self._trials.get(trial_id)
        values = _objective_values(result, self._names)
        step = result.get(self._step_key)
        if trial is None or values is None or not isinstance(step, int):
            return
        with contextlib.suppress(ConflictError):  # a restored trial replays its results
            trial.report(step, values)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        trial = self._trials.pop(trial_id, None)
        if trial is None or trial.finished:
            return
        values = None if result is None else _objective_values(result, self._names)
        if error or values is None:
            reason = (
                "Ray Tune reported an error for this trial"
                if error
                else f"the trial's last result has no objective {self._names}"
            )
            with contextlib.suppress(ConflictError):
                trial.fail(reason)
            return
        assert result is not None
        self._tell(trial, values, result)

    def _tell(self, trial: Trial, values: dict[str, float], result: dict[str, Any]) -> None:
        metrics = {
            k: v
            for k, v in result.items()
            if k not in self._names and _is_number(v) and math.isfinite(float(v))
        }
        cost = result.get("time_total_s")
        with contextlib.suppress(ConflictError):  # e.g. failed meanwhile by a missed heartbeat
            trial.tell(values, metrics=metrics, cost=float(cost) if _is_number(cost) else None)

    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_text(json.dumps(self._trial_state()))

    def restore(self, checkpoint_path: str) -> None:
        self._load_trials(json.loads(Path(checkpoint_path).read_text()))

    # Tune pickles its search algorithm with the experiment: keep the client out of it.
    def __getstate__(self) -> dict[str, Any]:
        state = {
            k: v for k, v in self.__dict__.items() if k not in ("_client", "_study", "_trials")
        }
        state["_connection"] = (self._client.url, self._client.token)
        state["_study_info"] = self._study.info.model_dump(mode="json")
        state["_trial_infos"] = self._trial_state()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        url, token = state.pop("_connection")
        study_info = StudyOut.model_validate(state.pop("_study_info"))
        trial_infos = state.pop("_trial_infos")
        self.__dict__.update(state)
        self._client = Client(url, token=token)
        self._study = Study(self._client, study_info)
        self._trials = {}
        self._load_trials(trial_infos)

    def _trial_state(self) -> dict[str, Any]:
        return {tune_id: t.info.model_dump(mode="json") for tune_id, t in self._trials.items()}

    def _load_trials(self, infos: dict[str, Any]) -> None:
        grace = self._study.info.heartbeat_grace_seconds
        for tune_id, info in infos.items():
            trial = Trial(self._study, TrialOut.model_validate(info))
            self._trials[str(tune_id)] = trial
            if grace is not None and not trial.finished:  # keep a resumed trial alive
                self._client.heartbeats.add(trial.id, min(grace / 4, 60.0))


def _mode(direction: Direction) -> str:
    return "max" if direction == Direction.MAXIMIZE else "min"


def _objective_values(result: dict[str, Any], names: list[str]) -> dict[str, float] | None:
    values = {}
    for name in names:
        value = result.get(name)
        if not _is_number(value) or not math.isfinite(float(value)):
            return None
        values[name] = float(value)
    return values


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
