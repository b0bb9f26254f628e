"""Policies by name, and validation of a study's policy spec."""

from __future__ import annotations

import functools
import importlib

from pydantic import BaseModel, ValidationError

from tunehub.schema import PolicySpec, StudySpec
from tunehub.server.policies.base import Policy, PolicySpecError

_WHERE: dict[str, str] = {
    "random": "random:RandomPolicy",
    "sobol": "sobol:SobolPolicy",
    "gp": "gp:GPPolicy",
    "hyperband": "hyperband:HyperbandPolicy",
    "asha": "asha:ASHAPolicy",
    "dehb": "dehb:DEHBPolicy",
    "carbs": "carbs:CarbsPolicy",
    "ac-race": "ac_race:RacePolicy",
    "ac-band": "ac_band:BandPolicy",
    "rising-bandit": "rising_bandit:RisingBanditPolicy",
}
"""Each policy's module and class. Modules are imported on first use, so a server
whose studies never name a model-based policy starts without torch."""

POLICY_NAMES: tuple[str, ...] = tuple(sorted(_WHERE))

MAX_ASK_COUNT = 1000
"""Trials one ask may request (``AskRequest.count``)."""
MODEL_ASK_COUNT = {"gp": 16, "carbs": 32}
"""Lower bounds for policies whose batch cost grows faster than its size: a ``gp``
batch of 32 is a joint optimization over 32 points (15 s on 2 cores, 200 took
minutes). A scheduler with the ``gp`` searcher fits a model per new trial."""
SEARCHER_ASK_COUNT = 16


def max_ask_count(policy: PolicySpec) -> int:
    """The most trials one ask of a study with this policy may request (more: 422)."""
    if policy.name in MODEL_ASK_COUNT:
        return MODEL_ASK_COUNT[policy.name]
    if policy.options.get("searcher") == "gp":
        return SEARCHER_ASK_COUNT
    return MAX_ASK_COUNT


@functools.cache
def policy_class(name: str) -> type[Policy]:
    """The class of policy ``name``; ``KeyError`` when there is none."""
    module, cls = _WHERE[name].split(":")
    found: type[Policy] = getattr(importlib.import_module(f"tunehub.server.policies.{module}"), cls)
    if found.name != name:
        raise RuntimeError(f"{module}.{cls} names itself {found.name!r}, not {name!r}")
    return found


def parse_options(spec: PolicySpec) -> BaseModel:
    """Validate the options of ``spec`` against its policy; raises ``PolicySpecError``."""
    if spec.name not in _WHERE:
        raise PolicySpecError(
            "policy.name",
            f"unknown policy {spec.name!r}: choose one of {list(POLICY_NAMES)}",
        )
    cls = policy_class(spec.name)
    try:
        return cls.Options.model_validate(spec.options)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        field = f"policy.options.{where}" if where else "policy.options"
        allowed = sorted(cls.Options.model_fields)
        raise PolicySpecError(
            field,
            f"policy {spec.name!r} option {where or '(all)'}: {first['msg']} "
            f"(its options are {allowed or 'none'})",
        ) from error


def check_policy(spec: StudySpec) -> BaseModel:
    """``parse_options``, then the policy's checks against the rest of the study."""
    options = parse_options(spec.policy)
    policy_class(spec.policy.name).check_spec(options, spec)
    return options


def build_policy(spec: PolicySpec) -> Policy:
    return policy_class(spec.name)(parse_options(spec))
