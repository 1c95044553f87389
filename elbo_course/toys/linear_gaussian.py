"""The linear-Gaussian toy, in which every ELBO term is exact (lessons 01, 02 and 04; float64 throughout).

Model: z ~ N(0, s0²), x | z ~ N(a z, s²) with s0² = ``prior_var``, s² = ``noise_var``, a = ``weight``.

    p(x)     = N(x; 0, a² s0² + s²)
    p(z | x) = N(m*, v*),  v* = 1 / (1/s0² + a²/s²),  m* = v* a x / s²

and for a Gaussian q(z) = N(m, v), with E_q (x - a z)² = (x - a m)² + a² v:

    E_q log p(x|z) = -1/2 log(2π s²) - [(x - a m)² + a² v] / (2 s²)
    E_q log p(z)   = -1/2 log(2π s0²) - (m² + v) / (2 s0²)
    H[q]           =  1/2 log(2π e v)
    KL(q ‖ p(z))   =  1/2 [ (m² + v)/s0² - 1 - log(v / s0²) ]
    ELBO = log p(x) - KL(q ‖ p(z|x)) = E_q log p(x,z) + H[q] = E_q log p(x|z) - KL(q ‖ p(z)).

Every method broadcasts over x, m, v: x of shape (N,) with one q per point is the multi-observation
model, and ``average_readings`` averages the three readings over the data set. The Gaussian densities
and KLs are those of ``elbo_course.distributions`` (a 1-D ``DiagonalGaussian`` per element).

Lesson helpers on the toy z ~ N(0, 1), x | z ~ N(z, 1):
    elbo_explorer_state(q_mean, q_std, x)   the numbers behind lesson 01's explorer widget
    jensen_gap_mc(w)                        log mean(w) - mean(log w) with a delta-method standard error
    mc_elbo_dataset(toy, x, enc, m, gen)    two doubly stochastic estimators of the data-set ELBO (lesson 02)
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..bounds import mean_and_se
from ..distributions import DiagonalGaussian

__all__ = ["LinearGaussian", "elbo_explorer_state", "jensen_gap_mc", "mc_elbo_dataset"]

Num = float | Tensor


def _t(x: Num) -> Tensor:
    return torch.as_tensor(x, dtype=torch.float64)


def _normal(mean: Num, var: Num) -> DiagonalGaussian:
    """N(mean, var) elementwise as a 1-D ``DiagonalGaussian``: shapes (...) -> event shape (..., 1)."""
    return DiagonalGaussian(_t(mean)[..., None], torch.log(_t(var))[..., None])


def _log_normal(x: Num, mean: Num, var: Num) -> Tensor:
    """log N(x; mean, var) elementwise (broadcasting), via ``DiagonalGaussian.log_prob``."""
    return _normal(mean, var).log_prob(_t(x)[..., None])


class LinearGaussian:
    """z ~ N(0, prior_var), x | z ~ N(weight·z, noise_var); scalar parameters, float64 tensors."""

    def __init__(self, prior_var: float = 1.0, noise_var: float = 1.0, weight: float = 1.0) -> None:
        if prior_var <= 0 or noise_var <= 0:
            raise ValueError("prior_var and noise_var must be positive variances (not standard deviations).")
        self.prior_var, self.noise_var, self.weight = float(prior_var), float(noise_var), float(weight)

    def log_evidence(self, x: Num) -> Tensor:
        """log p(x) = log N(x; 0, a² s0² + s²), elementwise; x (...) -> (...)."""
        return _log_normal(x, 0.0, self.weight**2 * self.prior_var + self.noise_var)

    def posterior(self, x: Num) -> tuple[Tensor, Tensor]:
        """(m*, v*) of p(z | x): v* = 1/(1/s0² + a²/s²), m* = v* a x / s²; each of x's shape."""
        v = 1.0 / (1.0 / self.prior_var + self.weight**2 / self.noise_var)
        return v * self.weight * _t(x) / self.noise_var, torch.full_like(_t(x), v)

    def log_prior(self, z: Num) -> Tensor:
        """log p(z) = log N(z; 0, s0²), elementwise."""
        return _log_normal(z, 0.0, self.prior_var)

    def log_likelihood(self, x: Num, z: Num) -> Tensor:
        """log p(x | z) = log N(x; a z, s²), elementwise (x and z broadcast)."""
        return _log_normal(x, self.weight * _t(z), self.noise_var)

    def log_joint(self, x: Num, z: Num) -> Tensor:
        """log p(x, z) = log p(z) + log p(x | z), elementwise."""
        return self.log_prior(z) + self.log_likelihood(x, z)

    def expected_log_likelihood(self, x: Num, q_mean: Num, q_var: Num) -> Tensor:
        """E_q log p(x|z) = -1/2 log(2π s²) - [(x - a m)² + a² v] / (2 s²) for q = N(m, v)."""
        x, m, v = _t(x), _t(q_mean), _t(q_var)
        a, s2 = self.weight, self.noise_var
        return _log_normal(x, a * m, s2) - a**2 * v / (2.0 * s2)

    def expected_log_joint(self, x: Num, q_mean: Num, q_var: Num) -> Tensor:
        """E_q log p(x, z) = E_q log p(x|z) - 1/2 log(2π s0²) - (m² + v) / (2 s0²)."""
        m, v = _t(q_mean), _t(q_var)
        e_prior = _log_normal(m, 0.0, self.prior_var) - v / (2.0 * self.prior_var)
        return self.expected_log_likelihood(x, m, v) + e_prior

    def kl_to_prior(self, q_mean: Num, q_var: Num) -> Tensor:
        """KL(N(m, v) ‖ N(0, s0²)) = 1/2 [(m² + v)/s0² - 1 - log(v/s0²)]."""
        return _normal(q_mean, q_var).kl(_normal(0.0, self.prior_var))

    def kl_to_posterior(self, x: Num, q_mean: Num, q_var: Num) -> Tensor:
        """KL(N(m, v) ‖ p(z | x)) with the closed-form posterior N(m*, v*)."""
        return _normal(q_mean, q_var).kl(_normal(*self.posterior(x)))

    @staticmethod
    def entropy(q_var: Num) -> Tensor:
        """H[N(m, v)] = 1/2 log(2π e v)."""
        return _normal(0.0, q_var).entropy()

    def elbo(self, x: Num, q_mean: Num, q_var: Num) -> Tensor:
        """Closed-form ELBO = E_q log p(x, z) + H[q] (the energy-plus-entropy reading)."""
        return self.expected_log_joint(x, q_mean, q_var) + self.entropy(q_var)

    def readings(self, x: Num, q_mean: Num, q_var: Num) -> dict[str, Tensor]:
        """The three readings of the ELBO, each computed from its own closed-form terms.

        ``evidence_minus_kl`` = log p(x) - KL(q ‖ p(z|x)); ``energy_plus_entropy`` = E_q log p(x,z) + H[q];
        ``recon_minus_kl`` = E_q log p(x|z) - KL(q ‖ p(z)). They agree up to float64 rounding.
        """
        return {
            "evidence_minus_kl": self.log_evidence(x) - self.kl_to_posterior(x, q_mean, q_var),
            "energy_plus_entropy": self.expected_log_joint(x, q_mean, q_var) + self.entropy(q_var),
            "recon_minus_kl": self.expected_log_likelihood(x, q_mean, q_var) - self.kl_to_prior(q_mean, q_var),
        }

    def average_readings(self, x: Num, q_mean: Num, q_var: Num) -> dict[str, Tensor]:
        """Data-set ELBO (1/N) Σ_n ELBO_n under each reading; x, q_mean, q_var of shape (N,) -> scalars.

        The "average over data" reading (1/N) Σ_n [E_{q_n} log p(x_n|z) - KL(q_n ‖ p(z))] is the one the
        VAE objective uses; it is also (1/N)[log p(X) - KL(q(Z|X) ‖ p(Z|X))] for the factorized q.
        """
        return {k: v.mean() for k, v in self.readings(x, q_mean, q_var).items()}

    def sample_data(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """x_1..x_n drawn from the model: z ~ N(0, s0²), x = a z + s ε; shape (n,)."""
        eps = torch.randn(2, n, generator=generator, dtype=torch.float64)
        return self.weight * math.sqrt(self.prior_var) * eps[0] + math.sqrt(self.noise_var) * eps[1]

    def log_weights(self, x: Num, q_mean: Num, q_var: Num, k: int,
                    generator: torch.Generator | None = None) -> Tensor:
        """log w_k = log p(x, z_k) - log q(z_k) with z_k ~ N(m, v); shape (k, *broadcast shape)."""
        x, m, v = torch.broadcast_tensors(_t(x), _t(q_mean), _t(q_var))
        z = m + v.sqrt() * torch.randn((k, *m.shape), generator=generator, dtype=torch.float64)
        return self.log_joint(x, z) - _log_normal(z, m, v)


def elbo_explorer_state(q_mean: float, q_std: float, x: float = 1.0) -> dict[str, float]:
    """Exact numbers for q(z|x) = N(q_mean, q_std²) on the toy z ~ N(0,1), x|z ~ N(z,1) (float64).

    Returns floats x, q_mean, q_std, posterior_mean, posterior_std, log_evidence = log p(x),
    elbo = ELBO(q), gap = log p(x) - ELBO(q) (from the two closed forms) and kl = KL(q ‖ p(z|x)) (from
    the KL formula), so ``gap - kl`` is a genuine check (≈ 1e-16). Raises ValueError for q_std <= 0.
    """
    if not q_std > 0:
        raise ValueError(f"q_std must be a positive standard deviation, got {q_std}.")
    toy = LinearGaussian()
    log_px = float(toy.log_evidence(x))
    elbo = float(toy.elbo(x, q_mean, q_std**2))
    m_star, v_star = toy.posterior(x)
    return {"x": float(x), "q_mean": float(q_mean), "q_std": float(q_std),
            "posterior_mean": float(m_star), "posterior_std": math.sqrt(float(v_star)),
            "log_evidence": log_px, "elbo": elbo, "gap": log_px - elbo,
            "kl": float(toy.kl_to_posterior(x, q_mean, q_std**2))}


def jensen_gap_mc(w: Tensor) -> tuple[float, float]:
    """Plug-in Jensen gap log(mean w) - mean(log w) of draws w (M,) > 0, with a delta-method std. error.

    Linearizing around (E W, E log W): gap_hat - gap ≈ mean(W/E W - log W) - (1 - E log W), so the
    standard error is std(w / mean(w) - log w) / sqrt(M). Returns (gap, se) as floats.
    """
    w = torch.as_tensor(w, dtype=torch.float64)
    if w.dim() != 1 or (w <= 0).any():
        raise ValueError("jensen_gap_mc expects a 1-D tensor of positive draws of W.")
    gap = math.log(float(w.mean())) - float(torch.log(w).mean())
    return gap, float(mean_and_se(w / w.mean() - torch.log(w))[1])


def mc_elbo_dataset(toy: LinearGaussian, x: Tensor, enc: tuple[float, float, float], m: int,
                    generator: torch.Generator) -> dict[str, tuple[float, float]]:
    """Doubly stochastic estimates of the data-set ELBO (1/N) Σ_n ELBO_n, each as (mean, se) over M draws.

    Encoder q(z | x_n) = N(a x_n + b, s²) with enc = (a, b, s); x of shape (N,). Each draw picks
    n ~ Uniform{1..N} (``torch.randint``), then z = a x_n + b + s ε. Two unbiased integrands, shape (M,):
      "full_mc":   log p(x_n, z) - log q(z | x_n)                 (every term sampled)
      "closed_kl": log p(x_n | z) - KL(q(z | x_n) ‖ p(z))          (the KL in closed form)
    """
    a, b, s = enc
    n = torch.randint(len(x), (m,), generator=generator)
    eps = torch.randn(m, generator=generator, dtype=torch.float64)
    xn = x[n]
    mu = a * xn + b
    z = mu + s * eps
    full = toy.log_joint(xn, z) - _log_normal(z, mu, s * s)
    closed = toy.log_likelihood(xn, z) - toy.kl_to_prior(mu, s * s)
    return {"full_mc": tuple(float(t) for t in mean_and_se(full)),
            "closed_kl": tuple(float(t) for t in mean_and_se(closed))}
