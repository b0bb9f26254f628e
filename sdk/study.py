"""``Study`` and ``Trial``: the ask/tell loop of the SDK."""

from __future__ import annotations

import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tunehub.errors import NothingToRun, TrialPruned
from tunehub.schema import (
    AskRequest,
    Decision,
    FidelityChange,
    ImportanceOut,
    IncumbentOut,
    ParetoOut,
    ReportResponse,
    ScalingOut,
    StudyOut,
    StudyPatch,
    TellRequest,
    TrialBatch,
    TrialList,
    TrialOut,
    TrialState,
)
from tunehub.space import ParamValue

if TYPE_CHECKING:
    import pandas as pd

    from tunehub.client import Client

Value = float | Mapping[str, float] | Sequence[float]


def default_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Study:
    def __init__(self, client: Client, info: StudyOut) -> None:
        self.client = client
        self.info = info

    @property
    def id(self) -> int:
        return self.info.id

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def objective_names(self) -> list[str]:
        return [o.name for o in self.info.objectives]

    def refresh(self) -> Study:
        self.info = StudyOut.model_validate(self.client.request("GET", f"/studies/{self.id}"))
        return self

    def raise_max_budget(self, new_max: float) -> Study:
        """Raise the fidelity's max while the study runs (iterative deepening).

        Multi-fidelity policies extend their rungs and brackets to the new max and
        promote from the results they already have; nothing is trained again.
        """
        return self._patch(StudyPatch(fidelity=FidelityChange(max=new_max)))

    def set_max_failed_trials(self, limit: int) -> Study:
        """Let a study that stopped after ``max_failed_trials`` failures go on (once its
        objective is fixed), or stop it sooner."""
        return self._patch(StudyPatch(max_failed_trials=limit))

    def _patch(self, body: StudyPatch) -> Study:
        answer = self.client.request(
            "PATCH", f"/studies/{self.id}", json=body.model_dump(exclude_none=True)
        )
        self.info = StudyOut.model_validate(answer)
        return self

    def incumbent(self) -> IncumbentOut:
        """The configuration an algorithm-configuration study would deploy now, with its
        results on the train and test instances."""
        return IncumbentOut.model_validate(
            self.client.request("GET", f"/studies/{self.id}/incumbent")
        )

    def test_incumbent(self) -> IncumbentOut:
        """Queue the incumbent on every test instance it has not run on (workers run
        those first); ``incumbent().test`` has the results once they are told."""
        body = self.client.request("POST", f"/studies/{self.id}/incumbent/test")
        return IncumbentOut.model_validate(body)

    def ask(self, worker: str | None = None) -> Trial:
        """Start one trial. It is heartbeated in the background until it is told.

        Raises ``NothingToRun`` when the policy waits on running trials (``ask_batch``
        returns an empty list then).
        """
        trials = self.ask_batch(1, worker=worker)
        if not trials:
            raise NothingToRun(
                f"study {self.name!r}: the policy has nothing to run until running trials "
                "finish; tell one, or ask again shortly"
            )
        return trials[0]

    def ask_batch(self, count: int, worker: str | None = None) -> list[Trial]:
        request = AskRequest(
            count=count, worker=worker or default_worker(), request_id=uuid.uuid4().hex
        )
        body = self.client.request(
            "POST", f"/studies/{self.id}/ask", json=request.model_dump(mode="json")
        )
        trials = [Trial(self, t) for t in TrialBatch.model_validate(body).trials]
        grace = self.info.heartbeat_grace_seconds
        if grace is not None:
            for trial in trials:
                self.client.heartbeats.add(trial.id, min(grace / 4, 60.0))
        return trials

    def enqueue(self, params: Mapping[str, ParamValue], *, instance: str | None = None) -> TrialOut:
        """Queue a configuration ahead of the policy's suggestions (on ``instance``, if given)."""
        body: dict[str, Any] = {"params": dict(params), "request_id": uuid.uuid4().hex}
        if instance is not None:
            body["instance"] = instance
        return TrialOut.model_validate(
            self.client.request("POST", f"/studies/{self.id}/enqueue", json=body)
        )

    def trials(self, state: TrialState | Iterable[TrialState] | None = None) -> list[TrialOut]:
        """All trials (optionally in the given states), paging through the API."""
        states = [state] if isinstance(state, TrialState | str) else list(state or [])
        out: list[TrialOut] = []
        while True:
            params: dict[str, Any] = {"limit": 1000, "offset": len(out)}
            if states:
                params["state"] = [TrialState(s).value for s in states]
            page = TrialList.model_validate(
                self.client.request("GET", f"/studies/{self.id}/trials", params=params)
            )
            out.extend(page.trials)
            if not page.trials or len(out) >= page.count:
                return out

    @property
    def best_trials(self) -> list[TrialOut]:
        """The best trial, or the Pareto set for several objectives."""
        body = self.client.request("GET", f"/studies/{self.id}/best")
        return TrialBatch.model_validate(body).trials

    def pareto(self) -> ParetoOut:
        """The Pareto set of feasible completed trials and its hypervolume."""
        return ParetoOut.model_validate(self.client.request("GET", f"/studies/{self.id}/pareto"))

    def importance(self, objective: str | None = None) -> ImportanceOut:
        """Each parameter's share of ``objective``'s variance (the first objective by default)."""
        params = {"objective": objective} if objective else None
        body = self.client.request("GET", f"/studies/{self.id}/importance", params=params)
        return ImportanceOut.model_validate(body)

    def scaling(self, cost: float | None = None, objective: str | None = None) -> ScalingOut:
        """Parameters and the objective as power laws in cost, over the cost-objective front.

        With ``cost``, ``recommended`` holds the settings the laws give at that cost.
        """
        params: dict[str, Any] = {}
        if cost is not None:
            params["cost"] = cost
        if objective:
            params["objective"] = objective
        body = self.client.request("GET", f"/studies/{self.id}/scaling", params=params or None)
        return ScalingOut.model_validate(body)

    @property
    def best_trial(self) -> TrialOut | None:
        best = self.best_trials
        return best[0] if best else None

    def _ask_when_ready(self, patience: float = 600.0) -> Trial:
        """``ask``, waiting while the policy waits on trials that other threads run."""
        deadline = time.monotonic() + patience
        while True:
            try:
                return self.ask()
            except NothingToRun:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def optimize(
        self,
        fn: Callable[[Trial], Value | None],
        n_trials: int,
        n_workers: int = 1,
        catch: tuple[type[BaseException], ...] = (),
    ) -> None:
        """Run ``fn`` on ``n_trials`` trials with ``n_workers`` threads.

        ``fn`` returns the objective value(s), or tells the trial itself. An
        exception is told as a failure with its traceback; exceptions in
        ``catch`` are then ignored, others stop the loop and are raised here.
        """
        remaining = [n_trials]
        lock = threading.Lock()
        errors: list[BaseException] = []

        def take() -> bool:
            with lock:
                if remaining[0] <= 0 or errors:
                    return False
                remaining[0] -= 1
                return True

        def loop() -> None:
            while take():
                try:
                    with self._ask_when_ready() as trial:
                        result = fn(trial)
                        if not trial.finished:
                            if result is None:
                                raise ValueError(
                                    "the objective returned None and did not tell the trial"
                                )
                            trial.tell(result)
                except catch:
                    continue
                except BaseException as error:
                    with lock:
                        errors.append(error)
                    return

        threads = [threading.Thread(target=loop, daemon=True) for _ in range(max(1, n_workers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def trials_dataframe(self) -> pd.DataFrame:
        """One row per trial: number, state, values, params_*, metrics_*, cost, times."""
        import pandas as pd

        rows = []
        for t in self.trials():
            row: dict[str, Any] = {
                "number": t.number,
                "state": t.state.value,
                "worker": t.worker,
                "budget": t.budget,
                "cost": t.cost,
                "started_at": t.started_at,
                "finished_at": t.finished_at,
                "error": t.error,
            }
            for name in self.objective_names:
                row[f"values_{name}"] = (t.values or {}).get(name)
            row.update({f"params_{k}": v for k, v in t.params.items()})
            row.update({f"metrics_{k}": v for k, v in (t.metrics or {}).items()})
            rows.append(row)
        return pd.DataFrame(rows)


class Trial:
    """A running trial handed out by ``Study.ask``.

    As a context manager it tells a failure (with the traceback) when the block
    raises, and a failure when the block ends without a tell. ``TrialPruned``
    tells ``pruned`` and is swallowed: pruning is an outcome, not an error.
    """

    def __init__(self, study: Study, info: TrialOut) -> None:
        self.study = study
        self.info = info
        self.checkpoint_dir: Path | None = None
        """Where the trial keeps its checkpoints when a ``tunehub worker`` runs it; a
        trial with a parent (a retry, a promotion) finds its parent's files there."""
        self.metrics: dict[str, Any] = {}
        """Extra metrics told with the result (``tell``'s ``metrics`` win on a clash)."""
        self._parent: TrialOut | None = None

    @property
    def id(self) -> int:
        return self.info.id

    @property
    def number(self) -> int:
        return self.info.number

    @property
    def params(self) -> dict[str, ParamValue]:
        return self.info.params

    @property
    def budget(self) -> float | None:
        """How far to train (the study's fidelity, e.g. epochs); ``None`` without one."""
        return self.info.budget

    @property
    def instance(self) -> str | None:
        """The id of the problem instance to run on, in an algorithm-configuration study."""
        return self.info.instance

    @property
    def instance_features(self) -> dict[str, float]:
        """The features the study declares for ``instance`` (empty when none)."""
        declared = self.study.info.instances
        if declared is None or self.info.instance is None:
            return {}
        found = declared.by_id().get(self.info.instance)
        return dict(found.features) if found is not None else {}

    @property
    def cutoff(self) -> float | None:
        """Seconds this run may take: its own (capped) cutoff, else the study's."""
        own = self.info.cutoff
        return own if own is not None else self.study.info.cutoff

    @property
    def parent_id(self) -> int | None:
        return self.info.parent_id

    @property
    def parent(self) -> TrialOut | None:
        """The trial this one continues (a promotion to a higher budget, or a retry).

        Resume from the parent's checkpoint and train from ``parent.budget`` up to
        ``budget``. Fetched from the server once.
        """
        if self.info.parent_id is None:
            return None
        if self._parent is None:
            body = self.study.client.request("GET", f"/trials/{self.info.parent_id}")
            self._parent = TrialOut.model_validate(body)
        return self._parent

    @property
    def finished(self) -> bool:
        return self.info.state.finished

    def report(self, step: int, value: Value) -> bool:
        """Record an intermediate value; returns ``True`` when the trial should stop."""
        body = {"step": step, "values": self._values(value)}
        answer = self.study.client.request("POST", f"/trials/{self.id}/reports", json=body)
        return ReportResponse.model_validate(answer).decision == Decision.STOP

    def tell(
        self,
        value: Value,
        *,
        metrics: Mapping[str, Any] | None = None,
        cost: float | None = None,
    ) -> TrialOut:
        """Complete the trial with its objective value(s)."""
        return self._tell(
            TellRequest(values=self._values(value), metrics=self._metrics(metrics), cost=cost)
        )

    def timeout(
        self,
        value: Value | None = None,
        *,
        metrics: Mapping[str, Any] | None = None,
        cost: float | None = None,
    ) -> TrialOut:
        """Tell that the run hit its cutoff, with the values it reached, if any.

        A study with instances scores a minimized first objective as ``par x cutoff``.
        """
        values = None if value is None else self._values(value)
        return self._tell(
            TellRequest(values=values, metrics=self._metrics(metrics), cost=cost, timed_out=True)
        )

    def fail(self, error: str = "", *, metrics: Mapping[str, Any] | None = None) -> TrialOut:
        return self._tell(
            TellRequest(
                state=TrialState.FAILED, error=error or None, metrics=self._metrics(metrics)
            )
        )

    def prune(self) -> TrialOut:
        return self._tell(TellRequest(state=TrialState.PRUNED))

    def heartbeat(self) -> None:
        self.study.client.request("POST", f"/trials/{self.id}/heartbeat")

    def _tell(self, request: TellRequest) -> TrialOut:
        body = self.study.client.request(
            "POST",
            f"/trials/{self.id}/tell",
            json=request.model_dump(mode="json", exclude_none=True, exclude_defaults=True),
        )
        self.info = TrialOut.model_validate(body)
        self.study.client.heartbeats.remove(self.id)
        return self.info

    def _metrics(self, metrics: Mapping[str, Any] | None) -> dict[str, Any] | None:
        merged = {**self.metrics, **(metrics or {})}
        return merged or None

    def _values(self, value: Value) -> dict[str, float | None]:
        """Objective values by name; ``None`` (a diverged run) makes a failed trial."""
        names = self.study.objective_names
        if isinstance(value, Mapping):
            return {k: None if v is None else float(v) for k, v in value.items()}
        if isinstance(value, int | float):
            if len(names) != 1:
                raise ValueError(
                    f"this study has objectives {names}: give a dict or a sequence of values"
                )
            return {names[0]: float(value)}
        values = list(value)
        if len(values) != len(names):
            raise ValueError(f"expected {len(names)} values for {names}, got {len(values)}")
        return {n: None if v is None else float(v) for n, v in zip(names, values)}

    def __enter__(self) -> Trial:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        pruned = exc_type is not None and issubclass(exc_type, TrialPruned)
        if self.finished:
            return pruned
        if exc_type is None:
            self.fail("the trial's with-block ended without telling a result")
        elif pruned:
            self.prune()
        else:
            self.fail("".join(traceback.format_exception(exc_type, exc, tb)))
        return pruned
