"""The implicit distribution q_EW behind the IWAE bound (Cremer et al., 2017), on a 2-D toy (lesson 04).

Toy model (float64; numpy arrays in and out): z ~ N(0, I_2), x | z ~ N(z_1 z_2, s²). Observing x > 0
gives a two-lobed posterior along the hyperbola z_1 z_2 = x; log p(x) = log ∫ p(x, z) dz is computed by
quadrature on the grid [-10, 10]² with spacing 0.125 (the integrands are smooth, so the rule converges fast, and
negligible outside the box): against the closed form of ELBO(q) (``elbo_closed_form``) the quadrature is off by
about 1e-11 nats, and log p(x) moves by less than 1e-10 on a wider, finer grid (tests/test_toys_qew.py).

Sampling-importance-resampling (SIR) with proposal q and K samples: draw z_1..z_K ~ q, weights
w_k = p(x, z_k) / q(z_k), pick one index k with probability w̃_k = w_k / Σ_j w_j. The picked z has density

    q_EW(z) = E_{z_2..z_K ~ q} [ q_IW(z | z_{2:K}) ],  q_IW(z | z_{2:K}) = p(x, z) / ( (1/K) (w(z) + Σ_{k≥2} w_k) ).

q_IW alone is not normalized; its average over z_{2:K} is (∫ q_EW = K E[w̃_1] = 1). For K = 1, q_EW = q.
``qew_masses`` gives the masses ∫ q_IW(z | z_{2:K}) dz of R inner draws by quadrature (any dimension); their
average, with its standard error, is a numeric witness of ∫ q_EW = 1.
What holds (Cremer et al.; Domke & Sheldon 2018) is an inequality, not the equality L_K = ELBO(q_EW):

    L_K(q) = E log (1/K) Σ_k w_k  ≤  ELBO(q_EW) = E_{q_EW} [log p(x, z) - log q_EW(z)]  ≤  log p(x).

``elbo_qew`` evaluates q_EW on the grid (averaging q_IW over R shared draws of z_{2:K}) and integrates
by quadrature; ``elbo_closed_form`` is ELBO(q) = L_1 for the Gaussian q in closed form (an independent check
of the K = 1 row); ``iwae_bound_mc`` estimates L_K from independent replicates (mean and standard error);
``qew_summary`` bundles the numbers of one K (lesson 04's widget callback draws them,
``elbo_course.figures.lesson04.qew_panel``). Densities are those of ``elbo_course.distributions`` and
log-sum-exps those of ``torch`` / ``elbo_course.bounds``, evaluated on the numpy arrays without copying.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from numpy.typing import NDArray

from ..bounds import log_mean_exp
from ..distributions import DiagonalGaussian, standard_normal_log_prob

__all__ = ["HyperbolaToy", "GaussianProposal", "sir_sample", "iwae_bound_mc", "qew_log_density", "qew_masses",
           "elbo_qew", "elbo_closed_form", "qew_summary", "DEFAULT_TOY", "DEFAULT_Q"]

Array = NDArray[np.float64]


def _logsumexp(a: Array, axis: int) -> Array:
    """log Σ exp(a) along ``axis`` with ``torch.logsumexp`` (max-shifted; all -inf gives -inf)."""
    return torch.logsumexp(torch.from_numpy(np.asarray(a, dtype=np.float64)), dim=axis).numpy()


def _log_mean_exp(a: Array, axis: int) -> Array:
    """log (1/K) Σ_k exp(a_k) along ``axis`` (K = a.shape[axis]) with ``bounds.log_mean_exp``."""
    return log_mean_exp(torch.from_numpy(np.asarray(a, dtype=np.float64)), dim=axis).numpy()


@dataclass(frozen=True)
class HyperbolaToy:
    """z ~ N(0, I_2), x | z ~ N(z_1 z_2, noise²); the observed ``x`` is fixed. Grid: the centres of n × n equal
    cells covering [-lim, lim]² (midpoint rule; no point lies on an axis, so z_1 z_2 is never 0 on the grid).

    The default grid (lim 10, spacing 0.125) holds all but ~1e-14 of q's mass (q's std is 1.3), so the
    quadrature of ELBO(q) matches its closed form to about 1e-11 nats; a grid cut at ±5 would miss the
    tails where (x - z_1 z_2)² is large and be off by 0.02 nats.
    """

    x: float = 1.5
    noise: float = 0.5
    lim: float = 10.0
    n: int = 160

    def log_joint(self, z: Array) -> Array:
        """log p(x, z) = log N(z; 0, I) + log N(x; z_1 z_2, noise²); z (..., 2) -> (...)."""
        zt = torch.from_numpy(np.asarray(z, dtype=np.float64))
        mean = (zt[..., 0] * zt[..., 1])[..., None]
        likelihood = DiagonalGaussian(mean, torch.full_like(mean, 2.0 * float(np.log(self.noise))))
        return (standard_normal_log_prob(zt) + likelihood.log_prob(torch.full_like(mean, self.x))).numpy()

    def grid(self) -> tuple[Array, float]:
        """Grid points (n*n, 2) and the cell area h², for midpoint-rule quadrature."""
        h = 2.0 * self.lim / self.n
        t = -self.lim + h * (np.arange(self.n) + 0.5)
        z1, z2 = np.meshgrid(t, t, indexing="xy")
        return np.stack([z1.ravel(), z2.ravel()], axis=-1), float(h**2)

    def log_evidence(self) -> float:
        """log p(x) = log Σ_grid p(x, z) h² (quadrature; error below 1e-10 nats on the default grid)."""
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
                    rng: np.random.Generator, chunk: int = 2048) -> Array:
    """log q_EW at ``points`` (P, 2): log of (1/R) Σ_r K p(x, z) / (w(z) + S_r), S_r = Σ_{k=2}^K w_rk.

    The R = ``inner`` draws of z_{2:K} are shared by all points; the estimate of the density (not of its
    log) is unbiased. K = 1 gives log q exactly. Returns shape (P,).
    """
    log_joint, log_w = toy.log_joint(points), _log_weights(toy, q, points)            # (P,)
    if K == 1:
        return log_joint - log_w
    log_s = torch.from_numpy(_logsumexp(_log_weights(toy, q, q.sample((inner, K - 1), rng)), axis=1))   # (R,)
    log_w_t, out = torch.from_numpy(log_w), torch.empty(len(points), dtype=torch.float64)
    for start in range(0, len(points), chunk):        # torch: two threads, twice numpy's logaddexp speed
        denom = torch.logaddexp(log_w_t[start:start + chunk, None], log_s[None, :])      # (chunk, R)
        out[start:start + chunk] = log_mean_exp(-denom, dim=1)
    return np.log(K) + log_joint + out.numpy()


def elbo_qew(toy: HyperbolaToy, q: GaussianProposal, K: int, inner: int = 2000,
             rng: np.random.Generator | None = None) -> dict[str, float]:
    """ELBO(q_EW) = ∫ q_EW (log p(x, z) - log q_EW) dz by grid quadrature; also the mass ∫ q̂_EW (≈ 1).

    The Monte Carlo density q̂_EW is renormalized on the grid before use (its mass is returned). With
    K = 1, q̂_EW = q exactly and the result is ELBO(q) = L_1 up to the quadrature error (about 1e-11 on the
    default grid, see ``elbo_closed_form``). Returns {"elbo", "mass", "log_px"}.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    pts, area = toy.grid()
    log_q = qew_log_density(toy, q, K, pts, inner, rng)
    mass = float(np.exp(_logsumexp(log_q, axis=0)) * area)
    log_r = log_q - np.log(mass)            # renormalize: the shared draws make a common scale error
    prob = np.exp(log_r) * area
    elbo = float(np.sum(prob * (toy.log_joint(pts) - log_r)))
    return {"elbo": elbo, "mass": mass, "log_px": toy.log_evidence()}


def qew_masses(log_joint: Array, log_w: Array, inner_log_w: Array, weights: Array | float, K: int) -> Array:
    """Masses m_r = ∫ q_IW(z | z_{2:K}^(r)) dz of R inner draws, by quadrature; shape (R,).

    q_IW(z | z_{2:K}) = K p(x, z) / (w(z) + Σ_{k≥2} w_k). ``log_joint`` and ``log_w`` are log p(x, z) and
    log w(z) at the G quadrature points (G,), ``weights`` the quadrature weights (G,) or one cell size,
    ``inner_log_w`` the log weights of the inner draws (R, K - 1). Each m_r may be far from 1; their
    average estimates ∫ q_EW = 1 (unbiased over the inner draws), with standard error sd(m) / √R.
    """
    log_s = _logsumexp(np.asarray(inner_log_w, dtype=np.float64), axis=1)           # (R,)
    log_joint, log_w_points = np.asarray(log_joint, dtype=np.float64), np.asarray(log_w, dtype=np.float64)
    log_wts = np.log(np.broadcast_to(np.asarray(weights, dtype=np.float64), log_w_points.shape))
    out = np.empty(len(log_s))
    for start in range(0, len(log_s), 64):
        sl = slice(start, start + 64)
        denom = np.logaddexp(log_w_points[None, :], log_s[sl, None])                  # (chunk, G)
        out[sl] = np.exp(_logsumexp(np.log(K) + log_joint[None, :] - denom + log_wts[None, :], axis=1))
    return out


def elbo_closed_form(toy: HyperbolaToy, q: GaussianProposal) -> float:
    """ELBO(q) = L_1 = E_q[log p(z) + log p(x | z)] + H[q] in closed form for the diagonal Gaussian q.

    With z_i ~ N(m_i, s_i²) independent: E z_i² = m_i² + s_i², E (x - z_1 z_2)² = x² - 2x m_1 m_2 + E z_1² E z_2²,
    H[q] = Σ_i ½ log(2πe s_i²). Independent of the grid, so it checks the quadrature.
    """
    m, s = np.asarray(q.mean, dtype=np.float64), np.asarray(q.std, dtype=np.float64)
    ez2 = m**2 + s**2
    log_prior = -np.log(2 * np.pi) - 0.5 * ez2.sum()
    sq = toy.x**2 - 2 * toy.x * m[0] * m[1] + ez2[0] * ez2[1]
    log_lik = -0.5 * np.log(2 * np.pi * toy.noise**2) - sq / (2 * toy.noise**2)
    entropy = float(np.sum(0.5 * np.log(2 * np.pi * np.e * s**2)))
    return float(log_prior + log_lik + entropy)


def qew_summary(K: int, rng: np.random.Generator, toy: HyperbolaToy = DEFAULT_TOY, q: GaussianProposal = DEFAULT_Q,
                n_samples: int = 3000, replicates: int = 20000, inner: int = 1000,
                inner_sets: int = 4) -> tuple[dict[str, float], Array]:
    """The numbers of one K and ``n_samples`` SIR draws (n_samples, 2), all drawn from ``rng`` in this order:
    SIR draws, ``inner_sets`` independent sets of ``inner`` shared inner draws for q_EW, then the replicates of L̂_K.

    Returns ({"K", "L_K", "L_K_se", "elbo_qew", "elbo_qew_se", "elbo_q", "log_px", "mass", "same_sign",
    "same_sign_posterior"}, draws). L_K is a Monte Carlo mean over ``replicates`` for every K (K = 1 included).
    "elbo_qew" is ELBO(q_EW) by quadrature, itself a Monte Carlo estimate through the inner draws: the mean of
    the estimates from the ``inner_sets`` sets, with "elbo_qew_se" their standard deviation / √sets (0 for
    K = 1, where q_EW = q exactly, or for one set); "mass" is the mean of their grid masses. "elbo_q" is
    ELBO(q) = L_1 in closed form, so for K = 1 the three are computed independently. "same_sign" is the
    fraction of SIR draws with z_1 z_2 > 0 (q gives 1/2; the posterior's value, by quadrature on a 4x finer grid,
    error about 2e-5, is "same_sign_posterior").
    """
    K = int(K)
    draws = sir_sample(toy, q, K, n_samples, rng)
    sets = [elbo_qew(toy, q, K, inner, rng) for _ in range(max(1, int(inner_sets)))]
    elbos = np.array([res["elbo"] for res in sets])
    elbo_se = float(elbos.std(ddof=1) / np.sqrt(len(elbos))) if K > 1 and len(elbos) > 1 else 0.0
    lk, lk_se = iwae_bound_mc(toy, q, K, replicates, rng)
    pts, _ = replace(toy, n=4 * toy.n).grid()         # a 4x finer grid: the indicator z_1 z_2 > 0 is not smooth
    post = np.exp(toy.log_posterior(pts))
    out = {"K": K, "L_K": lk, "L_K_se": lk_se, "elbo_qew": float(elbos.mean()), "elbo_qew_se": elbo_se,
           "elbo_q": elbo_closed_form(toy, q), "log_px": sets[0]["log_px"],
           "mass": float(np.mean([res["mass"] for res in sets])),
           "same_sign": float(np.mean(draws[:, 0] * draws[:, 1] > 0)),
           "same_sign_posterior": float(post[pts[:, 0] * pts[:, 1] > 0].sum() / post.sum())}
    return out, draws
