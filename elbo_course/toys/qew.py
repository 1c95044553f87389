"""The implicit distribution q_EW behind the IWAE bound (Cremer et al., 2017), on a 2-D toy (lesson 04).

Toy model (float64; numpy arrays in and out): z ~ N(0, I_2), x | z ~ N(z_1 z_2, s²). Observing x > 0
gives a two-lobed posterior along the hyperbola z_1 z_2 = x; log p(x) = log ∫ p(x, z) dz is computed by
quadrature on a grid (the integrand is smooth and negligible outside the box), so it is exact to many digits.

Sampling-importance-resampling (SIR) with proposal q and K samples: draw z_1..z_K ~ q, weights
w_k = p(x, z_k) / q(z_k), pick one index k with probability w̃_k = w_k / Σ_j w_j. The picked z has density

    q_EW(z) = E_{z_2..z_K ~ q} [ q_IW(z | z_{2:K}) ],  q_IW(z | z_{2:K}) = p(x, z) / ( (1/K) (w(z) + Σ_{k≥2} w_k) ).

q_IW alone is not normalized; its average over z_{2:K} is (∫ q_EW = K E[w̃_1] = 1). For K = 1, q_EW = q.
What holds (Cremer et al.; Domke & Sheldon 2018) is an inequality, not the equality L_K = ELBO(q_EW):

    L_K(q) = E log (1/K) Σ_k w_k  ≤  ELBO(q_EW) = E_{q_EW} [log p(x, z) - log q_EW(z)]  ≤  log p(x).

``elbo_qew`` evaluates q_EW on the grid (averaging q_IW over R shared draws of z_{2:K}) and integrates
by quadrature; ``iwae_bound_mc`` estimates L_K from independent replicates (mean and standard error);
``qew_summary`` bundles the numbers of one K (lesson 04's widget callback draws them,
``elbo_course.figures.lesson04.qew_panel``). Densities are those of ``elbo_course.distributions`` and
log-sum-exps those of ``torch`` / ``elbo_course.bounds``, evaluated on the numpy arrays without copying.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from ..bounds import log_mean_exp
from ..distributions import DiagonalGaussian, standard_normal_log_prob

__all__ = ["HyperbolaToy", "GaussianProposal", "sir_sample", "iwae_bound_mc", "qew_log_density",
           "elbo_qew", "qew_summary", "DEFAULT_TOY", "DEFAULT_Q"]

Array = NDArray[np.float64]


def _logsumexp(a: Array, axis: int) -> Array:
    """log Σ exp(a) along ``axis`` with ``torch.logsumexp`` (max-shifted; all -inf gives -inf)."""
    return torch.logsumexp(torch.from_numpy(np.asarray(a, dtype=np.float64)), dim=axis).numpy()


def _log_mean_exp(a: Array, axis: int) -> Array:
    """log (1/K) Σ_k exp(a_k) along ``axis`` (K = a.shape[axis]) with ``bounds.log_mean_exp``."""
    return log_mean_exp(torch.from_numpy(np.asarray(a, dtype=np.float64)), dim=axis).numpy()


@dataclass(frozen=True)
class HyperbolaToy:
    """z ~ N(0, I_2), x | z ~ N(z_1 z_2, noise²); the observed ``x`` is fixed. Grid: [-lim, lim]², n²."""

    x: float = 1.5
    noise: float = 0.5
    lim: float = 5.0
    n: int = 241

    def log_joint(self, z: Array) -> Array:
        """log p(x, z) = log N(z; 0, I) + log N(x; z_1 z_2, noise²); z (..., 2) -> (...)."""
        zt = torch.from_numpy(np.asarray(z, dtype=np.float64))
        mean = (zt[..., 0] * zt[..., 1])[..., None]
        likelihood = DiagonalGaussian(mean, torch.full_like(mean, 2.0 * float(np.log(self.noise))))
        return (standard_normal_log_prob(zt) + likelihood.log_prob(torch.full_like(mean, self.x))).numpy()

    def grid(self) -> tuple[Array, float]:
        """Grid points (n*n, 2) and the cell area h², for midpoint-rule quadrature."""
        t = np.linspace(-self.lim, self.lim, self.n)
        z1, z2 = np.meshgrid(t, t, indexing="xy")
        return np.stack([z1.ravel(), z2.ravel()], axis=-1), float((t[1] - t[0]) ** 2)

    def log_evidence(self) -> float:
        """log p(x) = log Σ_grid p(x, z) h² (quadrature; the error is far below the Monte Carlo errors)."""
        pts, area = self.grid()
        return float(_logsumexp(self.log_joint(pts), axis=0) + np.log(area))

    def log_posterior(self, z: Array) -> Array:
        """log p(z | x) = log p(x, z) - log p(x); z (..., 2) -> (...)."""
        return self.log_joint(z) - self.log_evidence()


@dataclass(frozen=True)
class GaussianProposal:
    """q(z) = N(mean, diag(std²)) in 2-D: deliberately unimodal, so it cannot match the two lobes."""

    mean: tuple[float, float] = (0.0, 0.0)
    std: tuple[float, float] = (1.3, 1.3)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> Array:
        """Draws mean + std ε, ε ~ N(0, I) from ``rng``; shape (*shape, 2)."""
        return np.asarray(self.mean) + np.asarray(self.std) * rng.standard_normal((*shape, 2))

    def log_prob(self, z: Array) -> Array:
        """log q(z) = log N(z; mean, diag std²) (``DiagonalGaussian``); (..., 2) -> (...)."""
        mean = torch.tensor(self.mean, dtype=torch.float64)
        logvar = 2.0 * torch.log(torch.tensor(self.std, dtype=torch.float64))
        return DiagonalGaussian(mean, logvar).log_prob(torch.from_numpy(np.asarray(z, dtype=np.float64))).numpy()


DEFAULT_TOY = HyperbolaToy()
DEFAULT_Q = GaussianProposal()


def _log_weights(toy: HyperbolaToy, q: GaussianProposal, z: Array) -> Array:
    """log w = log p(x, z) - log q(z); z (..., 2) -> (...)."""
    return toy.log_joint(z) - q.log_prob(z)


def sir_sample(toy: HyperbolaToy, q: GaussianProposal, K: int, n: int, rng: np.random.Generator) -> Array:
    """n independent SIR draws from q_EW: for each, K proposals from q and one resampled by w̃; (n, 2)."""
    if K < 1:
        raise ValueError(f"K must be a positive integer, got {K}.")
    z = q.sample((n, K), rng)                           # (n, K, 2)
    logw = _log_weights(toy, q, z)                      # (n, K)
    probs = np.exp(logw - _logsumexp(logw, axis=1)[:, None])
    u = rng.random((n, 1))
    idx = np.minimum((np.cumsum(probs, axis=1) < u).sum(axis=1), K - 1)
    return z[np.arange(n), idx]


def iwae_bound_mc(toy: HyperbolaToy, q: GaussianProposal, K: int, replicates: int,
                  rng: np.random.Generator) -> tuple[float, float]:
    """(mean, standard error) of L̂_K = log (1/K) Σ_k w_k over ``replicates`` independent draws (R, K)."""
    lk = _log_mean_exp(_log_weights(toy, q, q.sample((replicates, K), rng)), axis=1)   # (R,)
    return float(lk.mean()), float(lk.std(ddof=1) / np.sqrt(replicates))


def qew_log_density(toy: HyperbolaToy, q: GaussianProposal, K: int, points: Array, inner: int,
                    rng: np.random.Generator, chunk: int = 256) -> Array:
    """log q_EW at ``points`` (P, 2): log of (1/R) Σ_r K p(x, z) / (w(z) + S_r), S_r = Σ_{k=2}^K w_rk.

    The R = ``inner`` draws of z_{2:K} are shared by all points; the estimate of the density (not of its
    log) is unbiased. K = 1 gives log q exactly. Returns shape (P,).
    """
    log_joint, log_w = toy.log_joint(points), _log_weights(toy, q, points)            # (P,)
    if K == 1:
        return log_joint - log_w
    log_s = _logsumexp(_log_weights(toy, q, q.sample((inner, K - 1), rng)), axis=1)   # (R,)
    out = np.empty(len(points))
    for start in range(0, len(points), chunk):
        sl = slice(start, start + chunk)
        denom = np.logaddexp(log_w[sl, None], log_s[None, :])                          # (chunk, R)
        out[sl] = np.log(K) + log_joint[sl] + _log_mean_exp(-denom, axis=1)
    return out


def elbo_qew(toy: HyperbolaToy, q: GaussianProposal, K: int, inner: int = 2000,
             rng: np.random.Generator | None = None) -> dict[str, float]:
    """ELBO(q_EW) = ∫ q_EW (log p(x, z) - log q_EW) dz by grid quadrature; also the mass ∫ q̂_EW (≈ 1).

    The Monte Carlo density q̂_EW is renormalized on the grid before use (its mass is returned). With
    K = 1 the result is ELBO(q) = L_1 exactly (up to quadrature). Returns {"elbo", "mass", "log_px"}.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    pts, area = toy.grid()
    log_q = qew_log_density(toy, q, K, pts, inner, rng)
    mass = float(np.exp(_logsumexp(log_q, axis=0)) * area)
    log_r = log_q - np.log(mass)            # renormalize: the shared draws make a common scale error
    prob = np.exp(log_r) * area
    elbo = float(np.sum(prob * (toy.log_joint(pts) - log_r)))
    return {"elbo": elbo, "mass": mass, "log_px": toy.log_evidence()}


def qew_summary(K: int, rng: np.random.Generator, toy: HyperbolaToy = DEFAULT_TOY, q: GaussianProposal = DEFAULT_Q,
                n_samples: int = 3000, replicates: int = 20000, inner: int = 1000) -> tuple[dict[str, float], Array]:
    """The numbers of one K and ``n_samples`` SIR draws (n_samples, 2), all drawn from ``rng`` in this order:
    SIR draws, q_EW's shared inner draws, then the replicates of L̂_K.

    Returns ({"K", "L_K", "L_K_se", "elbo_qew", "log_px", "mass", "same_sign", "same_sign_posterior"}, draws).
    L_1 is ELBO(q) by quadrature (se 0); for K > 1, L_K is a Monte Carlo mean over ``replicates``.
    "same_sign" is the fraction of SIR draws with z_1 z_2 > 0 (q gives 1/2; the posterior's value, by
    quadrature, is "same_sign_posterior").
    """
    K = int(K)
    draws = sir_sample(toy, q, K, n_samples, rng)
    res = elbo_qew(toy, q, K, inner, rng)
    lk, lk_se = (res["elbo"], 0.0) if K == 1 else iwae_bound_mc(toy, q, K, replicates, rng)
    pts, _ = toy.grid()
    post = np.exp(toy.log_posterior(pts))
    out = {"K": K, "L_K": lk, "L_K_se": lk_se, "elbo_qew": res["elbo"], "log_px": res["log_px"],
           "mass": res["mass"], "same_sign": float(np.mean(draws[:, 0] * draws[:, 1] > 0)),
           "same_sign_posterior": float(post[pts[:, 0] * pts[:, 1] > 0].sum() / post.sum())}
    return out, draws
