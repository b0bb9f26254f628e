"""``Client``: the SDK's one entry point to a Tunehub server."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tunehub.errors import NotFoundError
from tunehub.heartbeats import Heartbeats
from tunehub.schema import (
    Direction,
    Objective,
    PolicySpec,
    StudyCreate,
    StudyList,
    StudyOut,
)
from tunehub.space import CategoricalParam, FloatParam, IntParam
from tunehub.study import Study
from tunehub.transport import Transport

DEFAULT_URL = "http://127.0.0.1:8000"

Objectives = str | Mapping[str, str | Direction] | Sequence[Objective | Mapping[str, Any]]


def api_key_from_environment() -> str | None:
    """``TUNEHUB_API_KEY``, or the first line of the file ``TUNEHUB_API_KEY_FILE`` names
    (a container secret)."""
    key = os.environ.get("TUNEHUB_API_KEY")
    path = os.environ.get("TUNEHUB_API_KEY_FILE")
    if not key and path:
        with open(path, encoding="utf-8") as file:
            key = file.readline().strip()
    return key or None


class Client:
    """Talks to the server at ``url`` (default ``TUNEHUB_URL``, else http://127.0.0.1:8000).

    Connection errors and 502/503/504 answers are retried with backoff for up
    to ``max_retry_seconds``; every request is safe to repeat.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        max_retry_seconds: float = 60.0,
    ) -> None:
        self.url = url or os.environ.get("TUNEHUB_URL") or DEFAULT_URL
        self.token = token or api_key_from_environment()
        self._transport = Transport(
            self.url,
            token=self.token,
            timeout=timeout,
            max_retry_seconds=max_retry_seconds,
        )
        self.heartbeats = Heartbeats(lambda tid: self.request("POST", f"/trials/{tid}/heartbeat"))

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """Call ``/api/v1{path}``; raises ``tunehub.errors.TunehubError`` subclasses."""
        return self._transport.request(method, f"/api/v1{path}", json=json, params=params)

    def create_study(
        self,
        *,
        name: str,
        space: Mapping[str, FloatParam | IntParam | CategoricalParam | Mapping[str, Any]],
        objectives: Objectives = "loss",
        policy: str = "random",
        policy_options: Mapping[str, Any] | None = None,
        seed: int | None = None,
        heartbeat_grace_seconds: float | None = 600.0,
        max_retries: int = 0,
        max_failed_trials: int | None = None,
        resources: Mapping[str, float] | None = None,
        constraints: Sequence[Mapping[str, Any]] = (),
        fidelity: Mapping[str, Any] | None = None,
        cost: Mapping[str, Any] | None = None,
        instances: Mapping[str, Any] | None = None,
        cutoff: float | None = None,
        user_attrs: Mapping[str, Any] | None = None,
    ) -> Study:
        """Create a study, or get it when it exists with the same spec (409 otherwise).

        ``objectives`` is a name (minimized), ``{"name": "minimize" | "maximize"}``,
        or a list of ``{"name", "direction"}``. The spec is validated here first,
        with the same rules and messages as the server's. ``constraints`` are
        outcome constraints, ``{"name": metric, "op": "<=" | ">=", "bound": x}``:
        tell each constrained metric with every result (``metrics=``). ``fidelity``,
        ``{"name": "epochs", "min": 1, "max": 81, "eta": 3}``, is the budget that
        multi-fidelity policies (``hyperband``, ``asha``) hand each trial as
        ``trial.budget``. ``cost``, ``{"unit": "gpu_seconds", "max": 3600}``, says what
        ``tunehub worker`` measures as a trial's cost (a cost told with the result wins)
        and the most a suggestion may be predicted to cost. ``instances``,
        ``{"train": [...], "test": [...], "par": 10}``, are the problem instances of an
        algorithm-configuration study (ids, or ``{"id", "features"}``); ``cutoff`` is the
        seconds a run may take before the worker stops it and tells a timeout.
        ``max_retries`` asks a trial whose worker died again (same parameters) up to that
        many times; past ``max_failed_trials`` failures, asks are refused (409) until the
        limit is raised with ``study.set_max_failed_trials``.
        """
        body = StudyCreate.model_validate(
            {
                "name": name,
                "space": {
                    k: v.model_dump() if hasattr(v, "model_dump") else dict(v)
                    for k, v in space.items()
                },
                "objectives": _objectives(objectives),
                "policy": PolicySpec(name=policy, options=dict(policy_options or {})),
                "seed": seed,
                "heartbeat_grace_seconds": heartbeat_grace_seconds,
                "max_retries": max_retries,
                "max_failed_trials": max_failed_trials,
                "resources": dict(resources) if resources is not None else None,
                "constraints": [dict(c) for c in constraints],
                "fidelity": dict(fidelity) if fidelity is not None else None,
                "cost": dict(cost) if cost is not None else None,
                "instances": dict(instances) if instances is not None else None,
                "cutoff": cutoff,
                "user_attrs": dict(user_attrs or {}),
            }
        )
        info = self.request("POST", "/studies", json=body.model_dump(mode="json"))
        return Study(self, StudyOut.model_validate(info))

    def get_study(self, name: str | int) -> Study:
        """The study with this name (or id); raises ``NotFoundError``."""
        if isinstance(name, int):
            return Study(self, StudyOut.model_validate(self.request("GET", f"/studies/{name}")))
        page = StudyList.model_validate(self.request("GET", "/studies", params={"name": name}))
        if not page.studies:
            raise NotFoundError(404, f"study {name!r} does not exist")
        return Study(self, page.studies[0])

    def list_studies(self, search: str | None = None) -> list[StudyOut]:
        return list(self._iter_studies(search))

    def _iter_studies(self, search: str | None) -> Iterator[StudyOut]:
        offset = 0
        while True:
            params: dict[str, Any] = {"limit": 1000, "offset": offset}
            if search:
                params["search"] = search
            page = StudyList.model_validate(self.request("GET", "/studies", params=params))
            yield from page.studies
            offset += len(page.studies)
            if not page.studies or offset >= page.count:
                return

    def delete_study(self, name: str | int) -> None:
        study = self.get_study(name)
        self.request("DELETE", f"/studies/{study.id}")

    def close(self) -> None:
        self.heartbeats.close()
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _objectives(objectives: Objectives) -> list[dict[str, Any]]:
    if isinstance(objectives, str):
        return [{"name": objectives, "direction": "minimize"}]
    if isinstance(objectives, Mapping):
        return [{"name": k, "direction": str(v)} for k, v in objectives.items()]
    return [o.model_dump() if isinstance(o, Objective) else dict(o) for o in objectives]
