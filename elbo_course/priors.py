"""Priors p(z) for the VAE: one small interface, a fixed registry, and the mixture density they share.

Every prior is an ``nn.Module`` with

    log_prob(z)            log p(z), z (..., d) -> (...)
    sample(n, generator)   n draws, (n, d)
    kl(q)                  KL(q(z|x) ‖ p(z)) in closed form for q = DiagonalGaussian (..., d) -> (...),
                           or None where no closed form exists (then the caller uses Monte Carlo)
    config()               plain data (ints, floats, bools, lists) that, with ``kind``, rebuilds the prior:
                           ``build_prior({"kind": ..., "config": ...})``; learned values live in the state dict
    attach(encoder)        called once by the VAE that owns the prior; a prior that needs the encoder (the
                           VampPrior of lesson 07, p(z) = 1/C Σ_c q(z | u_c)) keeps a reference, others ignore it

Priors here:
    StandardNormal       p(z) = N(0, I_d); KL(N(mu, s²) ‖ N(0, I)) = 1/2 Σ_i (mu_i² + s_i² - log s_i² - 1)
    MixtureOfGaussians   p(z) = 1/C Σ_c N(z; m_c, diag exp(logvar_c)); no closed-form KL
    VampPrior            p(z) = 1/C Σ_c q(z | u_c), the encoder at C learnable pseudo-inputs u_c ∈ [0, 1]^D
                         (Tomczak & Welling 2018); no closed-form KL

A new prior is added here, in this module, by implementing the interface with a new ``kind``; the registry
(``registry()``: every Prior subclass defined in this module, by kind) picks it up. Checkpoints name a prior
by ``kind`` only; ``build_prior`` looks it up in the registry (nothing stored in a file is imported or
called) and validates its arguments.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from .distributions import DiagonalGaussian, standard_normal_log_prob
from .surgery import mixture_log_density

__all__ = ["Prior", "StandardNormal", "MixtureOfGaussians", "VampPrior", "registry", "build_prior", "prior_spec"]


class Prior(nn.Module):
    """Base class of the priors (see the module docstring for the interface)."""

    kind: str = ""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}.")
        self.latent_dim = latent_dim

    def log_prob(self, z: Tensor) -> Tensor:  # pragma: no cover - abstract
        """log p(z), (..., d) -> (...)."""
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:  # pragma: no cover - abstract
        """n draws z ~ p(z), shape (n, d)."""
        raise NotImplementedError

    def kl(self, q: DiagonalGaussian) -> Tensor | None:
        """Closed-form KL(q ‖ p), (...); None where no closed form exists (the default)."""
        return None

    def config(self) -> dict[str, Any]:
        """Plain-data arguments of the constructor."""
        return {"latent_dim": self.latent_dim}

    def attach(self, encoder: nn.Module) -> None:
        """Called by the VAE that owns this prior; only a prior that needs the encoder keeps it."""
        return None

    def _check_z(self, z: Tensor) -> None:
        if not isinstance(z, Tensor) or z.dim() < 1 or z.shape[-1] != self.latent_dim:
            shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
            raise ValueError(f"{type(self).__name__}.log_prob expects z of shape (..., {self.latent_dim}), got {shape}.")


class StandardNormal(Prior):
    """p(z) = N(0, I_d): log p(z) = -1/2 Σ_i (z_i² + log 2π); closed-form KL to a diagonal Gaussian."""

    kind = "standard"

    def log_prob(self, z: Tensor) -> Tensor:
        self._check_z(z)
        return standard_normal_log_prob(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(_count(n), self.latent_dim, generator=generator)

    def kl(self, q: DiagonalGaussian) -> Tensor:
        return q.kl_standard_normal()


class MixtureOfGaussians(Prior):
    """p(z) = 1/C Σ_c N(z; m_c, diag exp(logvar_c)), equal weights, C components in d dimensions.

    ``MixtureOfGaussians(latent_dim, components, learnable=True)`` starts from means ~ N(0, I) drawn with
    ``torch.Generator().manual_seed(seed)`` and unit variances; ``from_components(means, logvar)`` fixes
    given (C, d) parameters (``learnable=False`` keeps them as buffers, out of the optimizer).
    """

    kind = "mog"

    def __init__(self, latent_dim: int, components: int, learnable: bool = True, seed: int = 0) -> None:
        super().__init__(latent_dim)
        if isinstance(components, bool) or not isinstance(components, int) or components < 1:
            raise ValueError(f"components must be a positive integer, got {components!r}.")
        if not isinstance(learnable, bool):
            raise ValueError(f"learnable must be True or False, got {learnable!r}.")
        self.components, self.learnable, self.seed = components, learnable, int(seed)
        means = torch.randn(components, latent_dim, generator=torch.Generator().manual_seed(self.seed))
        logvar = torch.zeros(components, latent_dim)
        if learnable:
            self.means, self.logvar = nn.Parameter(means), nn.Parameter(logvar)
        else:
            self.register_buffer("means", means)
            self.register_buffer("logvar", logvar)

    @classmethod
    def from_components(cls, means: Tensor, logvar: Tensor, learnable: bool = False) -> "MixtureOfGaussians":
        """A mixture with the given means and log-variances, each (C, d) (dtype kept)."""
        means, logvar = torch.as_tensor(means), torch.as_tensor(logvar)
        if means.dim() != 2 or means.shape != logvar.shape:
            raise ValueError(f"means and logvar must both have shape (C, d); got {tuple(means.shape)} and "
                             f"{tuple(logvar.shape)}.")
        prior = cls(int(means.shape[1]), int(means.shape[0]), learnable=learnable)
        with torch.no_grad():
            prior.means.data = means.detach().clone()
            prior.logvar.data = logvar.detach().clone()
        return prior

    def log_prob(self, z: Tensor) -> Tensor:
        self._check_z(z)
        flat = z.reshape(-1, self.latent_dim)
        return mixture_log_density(flat, self.means, self.logvar).reshape(z.shape[:-1])

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        idx = torch.randint(self.components, (_count(n),), generator=generator)
        return DiagonalGaussian(self.means[idx], self.logvar[idx]).sample(generator=generator).detach()

    def config(self) -> dict[str, Any]:
        return {"latent_dim": self.latent_dim, "components": self.components, "learnable": self.learnable,
                "seed": self.seed}


def registry() -> dict[str, type[Prior]]:
    """kind -> class, for every Prior subclass defined in this module (the package's own priors only)."""
    found: dict[str, type[Prior]] = {}
    stack = list(Prior.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__ != __name__:
            continue
        if not cls.kind or cls.kind in found:
            raise RuntimeError(f"Prior {cls.__name__} needs a kind of its own (got {cls.kind!r}).")
        found[cls.kind] = cls
    return found


class VampPrior(Prior):
    """p(z) = 1/C Σ_c q(z | u_c): a mixture of the encoder's own posteriors at C pseudo-inputs u_c.

    u_c = sigmoid(a_c) keeps each pseudo-input in [0, 1]^D; the free parameters a (C, D) start at
    logit(0.5 + 0.05 ε) with ε ~ N(0, I) from ``torch.Generator().manual_seed(seed)``. The prior needs the
    encoder of the VAE that owns it (``attach``), and trains with it: gradients reach both a and the encoder.
    log p(z) is ``surgery.mixture_log_density`` over the C components (one matrix product, differentiable).
    """

    kind = "vamp"

    def __init__(self, latent_dim: int, components: int, data_dim: int = 784, seed: int = 0) -> None:
        super().__init__(latent_dim)
        for name, value in (("components", components), ("data_dim", data_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        self.components, self.data_dim, self.seed = components, data_dim, int(seed)
        start = 0.5 + 0.05 * torch.randn(components, data_dim, generator=torch.Generator().manual_seed(self.seed))
        self.pseudo_logits = nn.Parameter(torch.logit(start.clamp(0.01, 0.99)))
        object.__setattr__(self, "_encoder", None)  # a reference, not a submodule: the VAE owns the encoder

    def attach(self, encoder: nn.Module) -> None:
        object.__setattr__(self, "_encoder", encoder)

    def pseudo_inputs(self) -> Tensor:
        """u = sigmoid(a), (C, D), each entry in [0, 1]."""
        return torch.sigmoid(self.pseudo_logits)

    def component_posteriors(self) -> tuple[Tensor, Tensor]:
        """(mu, logvar) of q(z | u_c), each (C, d)."""
        if self._encoder is None:
            raise RuntimeError("VampPrior needs the encoder: build the VAE with this prior (VAE(..., prior=...)), "
                               "which attaches its encoder, before evaluating or sampling the prior.")
        return self._encoder(self.pseudo_inputs())

    def log_prob(self, z: Tensor) -> Tensor:
        self._check_z(z)
        mu, logvar = self.component_posteriors()
        flat = z.reshape(-1, self.latent_dim)
        return mixture_log_density(flat, mu, logvar).reshape(z.shape[:-1])

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        idx = torch.randint(self.components, (_count(n),), generator=generator)
        with torch.no_grad():
            mu, logvar = self.component_posteriors()
            return DiagonalGaussian(mu[idx], logvar[idx]).sample(generator=generator)

    def config(self) -> dict[str, Any]:
        return {"latent_dim": self.latent_dim, "components": self.components, "data_dim": self.data_dim,
                "seed": self.seed}


def prior_spec(prior: Prior) -> dict[str, Any]:
    """{"kind": ..., "config": ...}: what a checkpoint stores to rebuild ``prior`` with ``build_prior``."""
    if registry().get(type(prior).kind) is not type(prior):
        raise ValueError(f"{type(prior).__name__} is not one of elbo_course.priors' own priors; define it in "
                         "elbo_course/priors.py (with a kind of its own) so that checkpoints can rebuild it.")
    return {"kind": prior.kind, "config": prior.config()}


_PLAIN = (bool, int, float, str, type(None))


def _plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return not (isinstance(value, float) and not math.isfinite(value))
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return False


def build_prior(spec: dict[str, Any] | None, latent_dim: int | None = None) -> Prior:
    """Rebuild a prior from ``prior_spec`` output; None (older checkpoints) means StandardNormal(latent_dim).

    Only the classes of ``registry()`` can be built, with keyword arguments that are plain finite data and
    that their constructor accepts; anything else raises ValueError.
    """
    if spec is None:
        if latent_dim is None:
            raise ValueError("build_prior(None) needs latent_dim for the standard normal prior.")
        return StandardNormal(int(latent_dim))
    if not isinstance(spec, dict) or set(spec) != {"kind", "config"}:
        raise ValueError(f"A prior spec is {{'kind': ..., 'config': {{...}}}}, got {spec!r}.")
    kind, config, known = spec["kind"], spec["config"], registry()
    if kind not in known:
        raise ValueError(f"Unknown prior kind {kind!r}; known: {', '.join(sorted(known))}.")
    if not isinstance(config, dict) or not all(isinstance(k, str) and _plain(v) for k, v in config.items()):
        raise ValueError(f"The config of prior {kind!r} must be a dict of plain finite values, got {config!r}.")
    try:
        prior = known[kind](**config)
    except TypeError as error:
        raise ValueError(f"Prior {kind!r} cannot be built from {config!r}: {error}") from None
    if latent_dim is not None and prior.latent_dim != latent_dim:
        raise ValueError(f"Prior {kind!r} has latent_dim {prior.latent_dim}, the model {latent_dim}.")
    return prior


def _count(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"the number of samples must be a non-negative integer, got {n!r}.")
    return n
