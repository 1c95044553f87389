"""The variational autoencoder of Hoffman & Johnson (2016) and Burda et al. (2015), with its estimators.

Model (x in {0,1}^784, z in R^d): a VAE is composed of an encoder, a decoder and a prior.
    encoder    q(z | x)      = N(mu(x), diag exp logvar(x)),            g: 784-h1-h2-2d MLP  ``GaussianEncoder``
    decoder    p(x | z)      = prod_j Bernoulli(x_j; sigmoid(f(z)_j)),  f: d-h2-h1-784 MLP  ``BernoulliDecoder``
    prior      p(z)          any ``elbo_course.priors.Prior`` (default N(0, I)); it may see the encoder
Hoffman & Johnson use h = (500, 500) and softplus; Burda et al. use h = (200, 200), tanh and d = 50.

Estimators (B images, K samples z_k ~ q(z | x))
    log w_k  = log p(x | z_k) + log p(z_k) - log q(z_k | x)                          ``log_weights``  (K, B)
    ELBO     = E_q log p(x | z) - KL(q(z | x) || p(z))                             ``elbo``         (B,)
               KL in closed form when ``prior.kl(q)`` has one, else 1/K Σ_k [log q(z_k|x) - log p(z_k)]
    L_K      = log 1/K sum_k w_k  (L_1 = ELBO estimate, L_K -> log p(x) as K grows)  ``log_likelihood`` (B,)
Active units (Burda et al.): A_u = Cov_x(E_q[u | x]); unit i is active when Var_n(mu_i(x_n)) > 0.01.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .bounds import iwae_bound
from .distributions import DiagonalGaussian, bernoulli_log_likelihood
from .priors import Prior, StandardNormal, prior_spec

ACTIVE_UNIT_THRESHOLD = 0.01
ACTIVATIONS = {"softplus": nn.Softplus, "tanh": nn.Tanh, "relu": nn.ReLU}


def _mlp_layers(sizes: list[int], activation: str) -> list[nn.Module]:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, not {activation!r}.")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return layers


def _full_precision(t: Tensor) -> Tensor:
    """float32 for a half-precision tensor (the output of bf16 autocast), anything else unchanged: the
    losses and densities are always computed in full precision."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


class GaussianEncoder(nn.Sequential):
    """q(z | x) = N(mu(x), diag exp logvar(x)): an MLP data_dim-h1-...-2d; x (..., D) -> (mu, logvar), each (..., d)."""

    def __init__(self, data_dim: int, hidden: tuple[int, ...], latent_dim: int, activation: str) -> None:
        super().__init__(*_mlp_layers([data_dim, *hidden, 2 * latent_dim], activation))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        mu, logvar = _full_precision(super().forward(x)).chunk(2, dim=-1)
        return mu, logvar


class BernoulliDecoder(nn.Sequential):
    """p(x | z) = prod_j Bernoulli(sigmoid(f(z)_j)): an MLP d-...-h1-data_dim; z (..., d) -> logits (..., D).

    Leading dimensions are flattened for the matrix products (2-D matmuls are faster).
    """

    def __init__(self, latent_dim: int, hidden: tuple[int, ...], data_dim: int, activation: str) -> None:
        super().__init__(*_mlp_layers([latent_dim, *reversed(hidden), data_dim], activation))
        self.data_dim = data_dim

    def forward(self, z: Tensor) -> Tensor:  # type: ignore[override]
        logits = _full_precision(super().forward(z.reshape(-1, z.shape[-1])))
        return logits.view(*z.shape[:-1], self.data_dim)


def gaussian_noise(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """eps ~ N(0, I) of ``shape`` on like's device and dtype; a CPU generator also works for CUDA tensors."""
    if generator is None or generator.device == like.device:
        return torch.randn(shape, generator=generator, device=like.device, dtype=like.dtype)
    return torch.randn(shape, generator=generator, device=generator.device, dtype=like.dtype).to(like.device)


class VAE(nn.Module):
    """Bernoulli-decoder VAE with a diagonal Gaussian encoder (see the module docstring for the formulas).

    ``VAE(latent_dim, hidden=(500, 500), activation="softplus", prior=None, data_dim=784)``;
    ``prior=None`` means ``StandardNormal(latent_dim)``. The prior is attached to the encoder
    (``prior.attach(encoder)``), so that a prior built from the encoder (the VampPrior) can use it.
    """

    def __init__(self, latent_dim: int, hidden: tuple[int, ...] | list[int] = (500, 500),
                 activation: str = "softplus", prior: Prior | None = None, data_dim: int = 784) -> None:
        super().__init__()
        self.latent_dim, self.data_dim = int(latent_dim), int(data_dim)
        self.hidden, self.activation = tuple(int(h) for h in hidden), activation
        self.encoder = GaussianEncoder(self.data_dim, self.hidden, self.latent_dim, activation)
        self.decoder = BernoulliDecoder(self.latent_dim, self.hidden, self.data_dim, activation)
        prior = StandardNormal(self.latent_dim) if prior is None else prior
        if not isinstance(prior, Prior):
            raise TypeError(f"prior must be an elbo_course.priors.Prior, got {type(prior).__name__}.")
        if prior.latent_dim != self.latent_dim:
            raise ValueError(f"the prior has latent_dim {prior.latent_dim}, the model {self.latent_dim}.")
        self.prior = prior
        self.prior.attach(self.encoder)

    @property
    def config(self) -> dict[str, Any]:
        """Plain data that rebuilds the model (``checkpoints.load_checkpoint``): sizes and the prior's spec."""
        return {"latent_dim": self.latent_dim, "hidden": list(self.hidden), "activation": self.activation,
                "data_dim": self.data_dim, "prior": prior_spec(self.prior)}

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (..., 784) -> (mu, logvar), each (..., d): the parameters of q(z | x)."""
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """z (..., d) -> Bernoulli logits (..., 784) of p(x | z)."""
        return self.decoder(z)

    def reparameterize(self, mu: Tensor, logvar: Tensor, k: int = 1,
                       generator: torch.Generator | None = None) -> Tensor:
        """z_k = mu + exp(logvar/2) * eps_k, eps_k ~ N(0, I); mu, logvar (B, d) -> z (K, B, d)."""
        eps = gaussian_noise((k, *mu.shape), mu, generator)
        return mu + torch.exp(0.5 * logvar) * eps

    def log_weights(self, x: Tensor, k: int = 1, generator: torch.Generator | None = None,
                    beta: float = 1.0) -> Tensor:
        """log w_k = log p(x|z_k) + beta [log p(z_k) - log q(z_k|x)], z_k ~ q(z|x); x (B, 784) -> (K, B).

        ``beta = 1`` gives the true importance weights.
        """
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, k, generator)
        log_px = bernoulli_log_likelihood(self.decode(z), x)
        return log_px + beta * (self.prior.log_prob(z) - DiagonalGaussian(mu, logvar).log_prob(z))

    def elbo_parts(self, x: Tensor, k: int = 1,
                   generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """(recon, kl), each (B,): recon = 1/K Σ_k log p(x|z_k); kl = KL(q(z|x) ‖ p(z)).

        KL is ``prior.kl(q)`` where the prior has a closed form, else the Monte Carlo estimate
        1/K Σ_k [log q(z_k|x) - log p(z_k)] on the same z_k.
        """
        mu, logvar = self.encode(x)
        q = DiagonalGaussian(mu, logvar)
        z = self.reparameterize(mu, logvar, k, generator)
        if k == 1:  # 2-D tensors all the way: 3-D inputs make nn.Linear copy in the backward pass
            recon = bernoulli_log_likelihood(self.decode(z[0]), x)
        else:
            recon = bernoulli_log_likelihood(self.decode(z), x).mean(0)
        kl = self.prior.kl(q)
        if kl is None:
            kl = (q.log_prob(z) - self.prior.log_prob(z)).mean(0)
        return recon, kl

    def elbo(self, x: Tensor, beta: float = 1.0, k: int = 1,
             generator: torch.Generator | None = None) -> Tensor:
        """ELBO_beta(x) = recon - beta * KL per image, x (B, 784) -> (B,) (see ``elbo_parts``)."""
        recon, kl = self.elbo_parts(x, k, generator)
        return recon - beta * kl

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, k: int = 5000, chunk: int | None = None,
                       generator: torch.Generator | None = None, batch_size: int = 100) -> Tensor:
        """Importance-sampled L_K = log 1/K Σ_k w_k per image (``bounds.iwae_bound``); x (B, 784) -> (B,) float64.

        Images go ``batch_size`` at a time and the K samples ``chunk`` at a time (default: about 20,000
        decoder rows per pass, i.e. ~60 MB of logits); the (K, B) log weights of all chunks are joined before
        the bound, so the answer does not depend on the chunking except through the random draws.
        """
        was_training = self.training
        self.eval()
        out = []
        for start in range(0, x.shape[0], batch_size):
            xb = x[start:start + batch_size]
            step = chunk or max(1, 20_000 // xb.shape[0])
            log_w = torch.cat([self.log_weights(xb, min(step, k - s), generator).double() for s in range(0, k, step)])
            out.append(iwae_bound(log_w))
        self.train(was_training)
        return torch.cat(out).cpu()


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
