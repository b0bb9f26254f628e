"""Analytic LogEI on a cached predictive: the acquisition the ``gp`` policy optimizes alone.

BoTorch's ``model.posterior`` rebuilds GPyTorch's lazy joint train/test
covariance on every call: a few milliseconds of Python per call whatever the
batch, and the acquisition optimizer calls it 40 to 100 times per ask. For one
exact single-output GP the posterior of a candidate batch is three tensor
products against quantities that do not change between those calls (the
Cholesky factor of the training covariance and ``K^-1 (y - mean)``), so they
are computed once here. The scaled Matern-5/2 kernel of the floats-only model
is evaluated in closed form on pre-scaled training inputs (half the time of
GPyTorch's kernel call with its backward); other kernels and means are the
model's own modules, called directly. ``PluginLogEI`` is otherwise BoTorch's
``LogExpectedImprovement``, and ``CachedPredictive`` agrees with
``model.posterior`` to rounding (tested).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from botorch.acquisition.analytic import LogExpectedImprovement
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.means import ConstantMean
from linear_operator.operators import LinearOperator
from torch import Tensor


class UnsupportedModel(Exception):
    """The model is not one exact single-output GP with a Gaussian likelihood."""


class CachedPredictive:
    """The latent posterior mean and variance of a fitted, single-output exact GP."""

    def __init__(self, model: Any) -> None:
        model.eval()
        if getattr(model, "num_outputs", 1) != 1 or not isinstance(
            model.likelihood, GaussianLikelihood
        ):
            raise UnsupportedModel("needs one output and a Gaussian likelihood")
        if model.covar_module.active_dims is not None:  # applied by __call__, not forward
            raise UnsupportedModel("needs a kernel over all input dimensions")
        self.model = model
        with torch.no_grad():
            x = model.train_inputs[0]  # already input-transformed in eval mode
            y = model.train_targets  # already outcome-transformed
            if x.dim() != 2 or y.dim() != 1:
                raise UnsupportedModel("needs unbatched training data")
            train = _dense(model.covar_module.forward(x, x))
            noise = model.likelihood.noise.reshape(-1)
            train = train + torch.diag_embed(noise.expand(len(y)))
            chol, info = torch.linalg.cholesky_ex(train)
            if int(info) != 0:
                raise UnsupportedModel("training covariance is not positive definite")
            self.train_x = x
            self.chol = chol
            residual = (y - model.mean_module(x)).unsqueeze(-1)
            self.alpha = torch.cholesky_solve(residual, chol).squeeze(-1)
            self.matern = _scaled_matern(model.covar_module)
            if self.matern is not None:
                self.scaled_train_x = x / self.matern[0]
            self.constant_mean = (
                model.mean_module.constant.detach().reshape(())
                if isinstance(model.mean_module, ConstantMean)
                else None
            )
        transform = getattr(model, "outcome_transform", None)
        if transform is not None:
            self.shift = transform.means.reshape(())
            self.scale = transform.stdvs.reshape(())
        else:
            self.shift = torch.zeros((), dtype=x.dtype)
            self.scale = torch.ones((), dtype=x.dtype)

    def __call__(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and variance, in the outcome's units, of ``X`` (``(b) x d``) → ``(b)``."""
        x = self.model.transform_inputs(X) if hasattr(self.model, "input_transform") else X
        if self.matern is not None:
            lengthscale, outputscale = self.matern
            cross = outputscale * _matern52(torch.cdist(x / lengthscale, self.scaled_train_x))
            prior = outputscale.expand(x.shape[:-1])
        else:
            cross = _dense(self.model.covar_module.forward(x, self.train_x))  # (b) x n
            # Each point against itself, as a batch of 1 x 1 matrices: asked for its
            # diagonal, BoTorch's categorical kernel builds the whole b x b matrix first.
            point = x.unsqueeze(-2)
            prior = _dense(self.model.covar_module.forward(point, point))[..., 0, 0]  # (b)
        if self.constant_mean is not None:
            mean = self.constant_mean + cross @ self.alpha
        else:
            mean = self.model.mean_module(x) + cross @ self.alpha
        n = self.chol.shape[-1]
        rows = cross.reshape(-1, n)
        solved = torch.linalg.solve_triangular(self.chol, rows.T, upper=False)  # one solve
        variance = prior - solved.pow(2).sum(0).reshape(prior.shape)
        return mean * self.scale + self.shift, variance * self.scale.pow(2)


class PluginLogEI(LogExpectedImprovement):  # type: ignore[misc]
    """LogEI over ``best_f`` (the plug-in noisy EI when ``best_f`` is the best posterior mean)."""

    def __init__(
        self, model: Any, best_f: Tensor | float, predictive: CachedPredictive | None = None
    ) -> None:
        super().__init__(model=model, best_f=best_f)
        self.predictive = predictive or CachedPredictive(model)

    def _mean_and_sigma(
        self, X: Tensor, compute_sigma: bool = True, min_var: float = 1e-12
    ) -> tuple[Tensor, Tensor | None]:
        mean, variance = self.predictive(X.squeeze(-2))
        mean = mean.unsqueeze(-1)
        if not compute_sigma:
            return mean, None
        return mean, variance.clamp_min(min_var).sqrt().unsqueeze(-1)


def _scaled_matern(kernel: Any) -> tuple[Tensor, Tensor] | None:
    """``(lengthscale (1 x d), outputscale ()`` of an unbatched scaled Matern-5/2, else None."""
    if not isinstance(kernel, ScaleKernel) or kernel.batch_shape != torch.Size():
        return None
    base = kernel.base_kernel
    if not isinstance(base, MaternKernel) or base.nu != 2.5 or base.active_dims is not None:
        return None
    return base.lengthscale.detach().reshape(1, -1), kernel.outputscale.detach().reshape(())


def _matern52(distance: Tensor) -> Tensor:
    scaled = math.sqrt(5.0) * distance
    return (1.0 + scaled + scaled.pow(2) / 3.0) * torch.exp(-scaled)


def _dense(value: Tensor | LinearOperator) -> Tensor:
    return value.to_dense() if isinstance(value, LinearOperator) else value
