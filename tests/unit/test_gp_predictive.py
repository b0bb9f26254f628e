"""The cached predictive agrees with BoTorch's posterior, and LogEI on it with BoTorch's LogEI."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from botorch.acquisition.analytic import LogExpectedImprovement

from tunehub.schema import StudySpec
from tunehub.server.policies import gp_model, gp_predictive
from tunehub.server.space.encoding import SpaceEncoder

FLOATS = {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(4)}
MIXED = {
    "kind": {"type": "categorical", "choices": ["a", "b", "c"]},
    "depth": {"type": "int", "low": 1, "high": 6},
    "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
    "gamma": {"type": "float", "low": 0.0, "high": 1.0, "condition": {"kind": ["b"]}},
}


def model_space(space_spec: dict[str, Any]) -> gp_model.ModelSpace:
    spec = StudySpec.model_validate({"space": space_spec, "objectives": [{"name": "f"}]})
    return gp_model.ModelSpace(SpaceEncoder(spec.space))


def fitted(space_spec: dict[str, Any], n: int, seed: int) -> tuple[Any, gp_model.ModelSpace]:
    space = model_space(space_spec)
    generator = torch.Generator().manual_seed(seed)
    x = space.canonical(torch.rand(n, space.dims, generator=generator, dtype=torch.double))
    active = torch.where(x < 0, torch.zeros_like(x), x)
    y = (active - 0.3).pow(2).sum(-1, keepdim=True) + torch.sin(7 * active[:, :1])
    model = gp_model.build_model(space, x, y)
    torch.manual_seed(seed)
    gp_model.fit(model, None, maxiter=50)
    return model, space


@pytest.mark.parametrize("space_spec", [FLOATS, MIXED], ids=["floats", "mixed-gated"])
def test_mean_and_variance_match_the_model_posterior(space_spec: dict[str, Any]) -> None:
    model, space = fitted(space_spec, 40, seed=3)
    predictive = gp_predictive.CachedPredictive(model)
    generator = torch.Generator().manual_seed(9)
    x = space.canonical(torch.rand(17, space.dims, generator=generator, dtype=torch.double))
    mean, variance = predictive(x)
    with torch.no_grad():
        posterior = model.posterior(x)
    torch.testing.assert_close(mean, posterior.mean.squeeze(-1), rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(variance, posterior.variance.squeeze(-1), rtol=1e-4, atol=1e-8)


def test_plugin_log_ei_matches_botorch_log_ei_and_its_gradient() -> None:
    model, space = fitted(FLOATS, 30, seed=5)
    best = model.posterior(model.train_inputs[0]).mean.max().detach()
    ours = gp_predictive.PluginLogEI(model, best)
    theirs = LogExpectedImprovement(model=model, best_f=best)
    x = torch.rand(8, 1, space.dims, dtype=torch.double, requires_grad=True)
    value = ours(x)
    (gradient,) = torch.autograd.grad(value.sum(), x)
    x_again = x.detach().clone().requires_grad_(True)
    expected = theirs(x_again)
    (expected_gradient,) = torch.autograd.grad(expected.sum(), x_again)
    torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(gradient, expected_gradient, rtol=1e-4, atol=1e-7)


def test_several_outputs_are_refused() -> None:
    space = model_space(FLOATS)
    x = torch.rand(10, space.dims, dtype=torch.double)
    model = gp_model.build_model(space, x, torch.rand(10, 2, dtype=torch.double))
    with pytest.raises(gp_predictive.UnsupportedModel):
        gp_predictive.CachedPredictive(model)


def test_a_fresh_fit_leaves_a_poor_warm_start() -> None:
    model, space = fitted(FLOATS, 30, seed=7)
    good = gp_model.dump_hypers(model)
    poor = dict(good)
    poor["likelihood.noise_covar.raw_noise"] = [5.0]  # "everything is noise"
    poor["covar_module.base_kernel.raw_lengthscale"] = [[-8.0] * space.dims]
    x, y = model.train_inputs[0], model.train_targets
    stuck = gp_model.fit(
        gp_model.build_model(space, x, y.unsqueeze(-1)), poor, maxiter=3, fresh=False
    )
    freed = gp_model.fit(
        gp_model.build_model(space, x, y.unsqueeze(-1)), poor, maxiter=3, fresh=True
    )
    assert stuck["likelihood.noise_covar.raw_noise"][0] > 1.0
    assert freed["likelihood.noise_covar.raw_noise"][0] < 1.0
