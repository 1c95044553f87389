"""The variational autoencoder of Hoffman & Johnson (2016) and Burda et al. (2015), with its estimators.

Model (x in {0,1}^784, z in R^d)
    prior      p(z)          = N(0, I) by default (any module with ``log_prob(z) -> (...)`` plugs in)
    decoder    p(x | z)      = prod_j Bernoulli(x_j; sigmoid(f(z)_j)),  f: d-h2-h1-784 MLP
    encoder    q(z | x)      = N(mu(x), diag exp logvar(x)),            g: 784-h1-h2-2d MLP
Hoffman & Johnson use h = (500, 500) and softplus; Burda et al. use h = (200, 200), tanh and d = 50.

Estimators (B images, K samples z_k ~ q(z | x))
    log w_k  = log p(x | z_k) + log p(z_k) - log q(z_k | x)                          ``log_weights``  (K, B)
    ELBO     = E_q log p(x | z) - KL(q(z | x) || p(z))                             ``elbo``         (B,)
               KL = 1/2 sum_i (mu_i^2 + exp logvar_i - 1 - logvar_i) for the N(0, I) prior, else Monte Carlo
    L_K      = log 1/K sum_k w_k  (L_1 = ELBO estimate, L_K -> log p(x) as K grows)  ``log_likelihood`` (B,)
Active units (Burda et al.): A_u = Cov_x(E_q[u | x]); unit i is active when Var_n(mu_i(x_n)) > 0.01.
"""
from __future__ import annotations

import hashlib
import importlib
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .bounds import mean_and_se
from .fileio import atomic_open
from .distributions import LOG_2PI, DiagonalGaussian, bernoulli_log_likelihood, standard_normal_log_prob

ACTIVE_UNIT_THRESHOLD = 0.01
_ACTIVATIONS = {"softplus": nn.Softplus, "tanh": nn.Tanh, "relu": nn.ReLU}


class StaleArtifactError(RuntimeError):
    """A stored result or checkpoint is missing or does not match what the code expects."""


class StandardNormalPrior(nn.Module):
    """p(z) = N(0, I_d): ``log_prob(z) = -1/2 sum_i (z_i^2 + log 2 pi)``, shape (...,d) -> (...)."""

    def __init__(self, latent_dim: int | None = None) -> None:
        super().__init__()
        self.latent_dim = latent_dim

    def log_prob(self, z: Tensor) -> Tensor:
        return standard_normal_log_prob(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws z ~ N(0, I), shape (n, d)."""
        if self.latent_dim is None:
            raise ValueError("StandardNormalPrior(latent_dim=d) is needed to sample.")
        return torch.randn(n, self.latent_dim, generator=generator)

    def config(self) -> dict[str, Any]:
        return {"latent_dim": self.latent_dim}


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(_ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def standard_normal(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Standard normal noise of ``shape`` on like's device; a CPU generator also works for CUDA tensors."""
    if generator is None or generator.device == like.device:
        return torch.randn(shape, generator=generator, device=like.device, dtype=like.dtype)
    return torch.randn(shape, generator=generator, device=generator.device, dtype=like.dtype).to(like.device)


class VAE(nn.Module):
    """Bernoulli-decoder VAE with a diagonal Gaussian encoder (see the module docstring for the formulas).

    ``VAE(latent_dim, hidden=(500, 500), activation="softplus", prior=None, data_dim=784)``;
    ``prior=None`` means ``StandardNormalPrior(latent_dim)`` and gives the closed-form KL.
    """

    def __init__(
        self,
        latent_dim: int,
        hidden: tuple[int, ...] | list[int] = (500, 500),
        activation: str = "softplus",
        prior: nn.Module | None = None,
        data_dim: int = 784,
    ) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, not {activation!r}.")
        self.latent_dim, self.data_dim = int(latent_dim), int(data_dim)
        self.hidden, self.activation = tuple(int(h) for h in hidden), activation
        self.encoder = _mlp([self.data_dim, *self.hidden, 2 * self.latent_dim], activation)
        self.decoder = _mlp([self.latent_dim, *reversed(self.hidden), self.data_dim], activation)
        self.prior = StandardNormalPrior(self.latent_dim) if prior is None else prior

    @property
    def standard_prior(self) -> bool:
        """True when the prior is N(0, I), so that KL(q || p) has a closed form."""
        return isinstance(self.prior, StandardNormalPrior)

    @property
    def config(self) -> dict[str, Any]:
        """What ``load_checkpoint`` needs to rebuild the model (the prior by import path and its config())."""
        cfg: dict[str, Any] = {"latent_dim": self.latent_dim, "hidden": list(self.hidden),
                               "activation": self.activation, "data_dim": self.data_dim, "prior": None}
        if not self.standard_prior:
            cls = type(self.prior)
            prior_cfg = self.prior.config() if hasattr(self.prior, "config") else None
            cfg["prior"] = {"class": f"{cls.__module__}:{cls.__qualname__}", "config": prior_cfg}
        return cfg

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (..., 784) -> (mu, logvar), each (..., d): the parameters of q(z | x)."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """z (..., d) -> Bernoulli logits (..., 784) of p(x | z) (leading dims flattened: 2-D matmuls are faster)."""
        return self.decoder(z.reshape(-1, z.shape[-1])).view(*z.shape[:-1], self.data_dim)

    def reparameterize(self, mu: Tensor, logvar: Tensor, k: int = 1,
                       generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """z_k = mu + exp(logvar/2) * eps_k, eps_k ~ N(0, I); returns (z, eps), each (K, B, d)."""
        eps = standard_normal((k, *mu.shape), mu, generator)
        return mu + torch.exp(0.5 * logvar) * eps, eps

    def log_weights(self, x: Tensor, k: int = 1, generator: torch.Generator | None = None,
                    beta: float = 1.0) -> Tensor:
        """log w_k = log p(x|z_k) + beta [log p(z_k) - log q(z_k|x)], z_k ~ q(z|x); x (B, 784) -> (K, B).

        ``beta = 1`` gives the true importance weights; log q uses eps directly:
        log q(z|x) = -1/2 sum_i (eps_i^2 + logvar_i + log 2 pi).
        """
        mu, logvar = self.encode(x)
        z, eps = self.reparameterize(mu, logvar, k, generator)
        logits = self.decode(z)
        log_px = bernoulli_log_likelihood(logits, x)
        log_q = -0.5 * (eps.square() + logvar + LOG_2PI).sum(-1)
        return log_px + beta * (self.prior.log_prob(z) - log_q)

    def elbo_parts(self, x: Tensor, k: int = 1,
                   generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """(recon, kl), each (B,): recon = 1/K sum_k log p(x|z_k); kl = KL(q(z|x) || p(z)).

        KL is the closed form 1/2 sum_i (mu_i^2 + exp logvar_i - 1 - logvar_i) for the N(0, I) prior and
        the Monte Carlo estimate 1/K sum_k [log q(z_k|x) - log p(z_k)] (same z_k) for any other prior.
        """
        mu, logvar = self.encode(x)
        z, eps = self.reparameterize(mu, logvar, k, generator)
        logits = self.decode(z)
        recon = bernoulli_log_likelihood(logits, x)
        if self.standard_prior:
            kl = DiagonalGaussian(mu, logvar).kl_standard_normal()
        else:
            log_q = -0.5 * (eps.square() + logvar + LOG_2PI).sum(-1)
            kl = (log_q - self.prior.log_prob(z)).mean(0)
        return recon.mean(0), kl

    def elbo(self, x: Tensor, beta: float = 1.0, k: int = 1,
             generator: torch.Generator | None = None) -> Tensor:
        """ELBO_beta(x) = recon - beta * KL per image, x (B, 784) -> (B,) (see ``elbo_parts``)."""
        recon, kl = self.elbo_parts(x, k, generator)
        return recon - beta * kl

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, k: int = 5000, chunk: int | None = None,
                       generator: torch.Generator | None = None, batch_size: int = 100) -> Tensor:
        """Importance-sampled L_K = logsumexp_k log w_k - log K per image; x (B, 784) -> (B,) float64.

        Images go ``batch_size`` at a time and the K samples ``chunk`` at a time (default: about 20,000
        decoder rows per pass, i.e. ~60 MB of logits); chunk results are combined with logsumexp, so the
        answer does not depend on the chunking except through the random draws.
        """
        was_training = self.training
        self.eval()
        out = []
        for start in range(0, x.shape[0], batch_size):
            xb = x[start:start + batch_size]
            step = chunk or max(1, 20_000 // xb.shape[0])
            parts = [torch.logsumexp(self.log_weights(xb, min(step, k - s), generator).double(), dim=0)
                     for s in range(0, k, step)]
            out.append(torch.logsumexp(torch.stack(parts), dim=0) - math.log(k))
        self.train(was_training)
        return torch.cat(out).cpu()


def log_likelihood_estimate(model: VAE, x: Tensor, k: int = 5000, chunk: int | None = None,
                            generator: torch.Generator | None = None) -> tuple[float, float]:
    """Test log-likelihood estimate 1/N sum_n L_K(x_n) and its standard error s_n(L_K) / sqrt(N) over N images."""
    mean, se = mean_and_se(model.log_likelihood(_to_model(model, x), k, chunk, generator))
    return float(mean), float(se)


def _to_model(model: nn.Module, x: Tensor) -> Tensor:
    param = next(model.parameters())
    return x.to(device=param.device, dtype=param.dtype)


@torch.no_grad()
def encode_dataset(model: VAE, x: Tensor, batch_size: int = 1000) -> tuple[Tensor, Tensor]:
    """(mu, logvar) of q(z | x_n) for every row of x (N, 784), each (N, d) on the CPU."""
    pairs = [model.encode(_to_model(model, x[s:s + batch_size])) for s in range(0, x.shape[0], batch_size)]
    return torch.cat([m for m, _ in pairs]).cpu(), torch.cat([v for _, v in pairs]).cpu()


def encoder_means(model: VAE, x: Tensor, batch_size: int = 1000) -> Tensor:
    """Encoder means E_q[z | x_n] = mu(x_n) for x (N, 784) -> (N, d) on the CPU."""
    return encode_dataset(model, x, batch_size)[0]


def active_units(mu: Tensor, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """Number of latent units i with Var_n(mu_i(x_n)) > threshold; mu (N, d) of encoder means.

    The variance is the population variance over the N data points (divisor N), in float64.
    """
    if mu.ndim != 2 or mu.shape[0] < 2:
        raise ValueError(f"active_units expects encoder means of shape (N, d) with N >= 2, got {tuple(mu.shape)}.")
    return int((mu.double().var(dim=0, correction=0) > threshold).sum())


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save to a temporary file in the same folder, then os.replace (readers never see half a file)."""
    with atomic_open(path, "wb") as handle:
        torch.save(obj, handle)


def save_checkpoint(model: VAE, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> str:
    """Write {state_dict (float32, CPU), config, meta} atomically to ``path``; return the file's SHA-256."""
    state = {name: t.detach().to("cpu", torch.float32 if t.is_floating_point() else t.dtype).contiguous()
             for name, t in model.state_dict().items()}
    atomic_torch_save({"format": "elbo_course.vae/1", "config": model.config, "meta": dict(meta or {}),
                       "state_dict": state}, path)
    return file_sha256(path)


def _regenerate_hint(command: str | None) -> str:
    return f" Regenerate it with `{command}`." if command else " Regenerate it with the command that wrote it."


def load_checkpoint(path: str | os.PathLike, expected_sha256: str | None = None, *, prior: nn.Module | None = None,
                    map_location: str | torch.device = "cpu", command: str | None = None) -> VAE:
    """Rebuild a VAE from ``save_checkpoint`` output (torch.load with weights_only=True), in eval mode.

    ``expected_sha256`` is compared with the file's SHA-256 first; a mismatch or a missing file raises
    StaleArtifactError naming ``command`` (default: the command stored in the checkpoint's meta, if any).
    A non-standard prior is rebuilt from its import path and ``config()``, or passed as ``prior``.
    """
    path = Path(path)
    if not path.is_file():
        raise StaleArtifactError(f"Checkpoint {path} is missing.{_regenerate_hint(command)}")
    if expected_sha256 is not None:
        actual = file_sha256(path)
        if actual != expected_sha256:
            raise StaleArtifactError(
                f"Checkpoint {path} has SHA-256 {actual[:12]}..., but the results expect "
                f"{expected_sha256[:12]}...; it is stale or corrupted.{_regenerate_hint(command)}")
    blob = torch.load(path, map_location=map_location, weights_only=True)
    cfg = dict(blob["config"])
    prior_spec = cfg.pop("prior", None)
    if prior is None and prior_spec is not None:
        if prior_spec.get("config") is None:
            raise ValueError(f"{path} uses prior {prior_spec['class']} without config(); pass prior=... to load it.")
        module_name, qualname = prior_spec["class"].split(":")
        cls: Any = importlib.import_module(module_name)
        for attr in qualname.split("."):
            cls = getattr(cls, attr)
        prior = cls(**prior_spec["config"])
    model = VAE(**cfg, prior=prior)
    model.load_state_dict(blob["state_dict"])
    model.meta = blob.get("meta", {})  # type: ignore[attr-defined]
    return model.to(map_location).eval()
