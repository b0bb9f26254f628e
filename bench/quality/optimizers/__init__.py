"""Optimizers by name: Tunehub policies through the server, and the peers judged beside them."""

from __future__ import annotations

import json
from collections.abc import Callable

from bench.quality.optimizers.ax_peer import AxClient
from bench.quality.optimizers.base import Context, Optimizer
from bench.quality.optimizers.hebo_peer import HEBO
from bench.quality.optimizers.hyperopt_peer import HyperoptTPE
from bench.quality.optimizers.optuna_peer import optuna_cmaes, optuna_gp, optuna_tpe
from bench.quality.optimizers.random_search import RandomSearch
from bench.quality.optimizers.smac_peer import SMAC
from bench.quality.optimizers.tunehub_sdk import TunehubPolicy

__all__ = ["DEFAULT_OPTIMIZERS", "Context", "Optimizer", "get_optimizer", "known_optimizers"]

_PEERS: dict[str, Callable[[], Optimizer]] = {
    "optuna-gp": optuna_gp,
    "optuna-tpe": optuna_tpe,
    "optuna-cmaes": optuna_cmaes,
    "hyperopt-tpe": HyperoptTPE,
    "ax": AxClient,
    "smac": SMAC,
    "hebo": HEBO,
    "random": RandomSearch,
}

TUNEHUB_PREFIX = "tunehub-"

DEFAULT_OPTIMIZERS = ("tunehub-gp", *_PEERS)


def known_optimizers() -> list[str]:
    return [f"{TUNEHUB_PREFIX}<policy>[+option=value...]", *_PEERS]


def get_optimizer(name: str) -> Optimizer:
    """``tunehub-<policy>`` runs that server policy, ``tunehub-gp+n_init=10`` with policy
    options (values read as JSON where they parse, else as strings); other names are the
    peers above."""
    if name.startswith(TUNEHUB_PREFIX) and len(name) > len(TUNEHUB_PREFIX):
        policy, *settings = name.removeprefix(TUNEHUB_PREFIX).split("+")
        options = {}
        for setting in settings:
            key, sep, text = setting.partition("=")
            if not sep or not key:
                raise ValueError(f"{name!r}: write policy options as +option=value")
            try:
                options[key] = json.loads(text)
            except ValueError:
                options[key] = text
        return TunehubPolicy(policy, options, name=name)
    try:
        return _PEERS[name]()
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}: choose from {known_optimizers()}") from None
