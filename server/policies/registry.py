"""Policies by name, and validation of a study's policy spec."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from tunehub.schema import PolicySpec, StudySpec
from tunehub.server.policies.asha import ASHAPolicy
from tunehub.server.policies.base import Policy, PolicySpecError
from tunehub.server.policies.carbs import CarbsPolicy
from tunehub.server.policies.dehb import DEHBPolicy
from tunehub.server.policies.gp import GPPolicy
from tunehub.server.policies.hyperband import HyperbandPolicy
from tunehub.server.policies.random import RandomPolicy
from tunehub.server.policies.sobol import SobolPolicy

POLICIES: dict[str, type[Policy]] = {
    cls.name: cls
    for cls in (
        RandomPolicy,
        SobolPolicy,
        GPPolicy,
        HyperbandPolicy,
        ASHAPolicy,
        DEHBPolicy,
        CarbsPolicy,
    )
}


def parse_options(spec: PolicySpec) -> BaseModel:
    """Validate the options of ``spec`` against its policy; raises ``PolicySpecError``."""
    cls = POLICIES.get(spec.name)
    if cls is None:
        raise PolicySpecError(
            "policy.name",
            f"unknown policy {spec.name!r}: choose one of {sorted(POLICIES)}",
        )
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
    POLICIES[spec.policy.name].check_spec(options, spec)
    return options


def build_policy(spec: PolicySpec) -> Policy:
    return POLICIES[spec.name](parse_options(spec))
