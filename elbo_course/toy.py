"""Toy models in which every ELBO term is exact (float64 throughout).

1. ``LinearGaussian``: z ~ N(0, s0²), x | z ~ N(a z, s²). Everything is closed form:
       p(x)     = N(x; 0, a² s0² + s²)
       p(z | x) = N(m*, v*),  v* = 1 / (1/s0² + a²/s²),  m* = v* a x / s²
   and for a Gaussian q(z) = N(m, v), with E_q (x - a z)² = (x - a m)² + a² v:
       E_q log p(x|z) = -1/2 log(2π s²) - [(x - a m)² + a² v] / (2 s²)
       E_q log p(z)   = -1/2 log(2π s0²) - (m² + v) / (2 s0²)
       H[q]           =  1/2 log(2π e v)
       KL(q ‖ p(z))   =  1/2 [ (m² + v)/s0² - 1 - log(v / s0²) ]
       ELBO = log p(x) - KL(q ‖ p(z|x)) = E_q log p(x,z) + H[q] = E_q log p(x|z) - KL(q ‖ p(z)).
   Every method broadcasts over x, m, v, so x of shape (N,) with one q per point is the multi-observation
   model; ``average_readings`` averages the three readings over the data set.

2. ``GaussianMixtureToy``: a finite data set of N points with Gaussian encoders q(z | n) = N(mu_n, diag
   sigma_n²) in d = 1 or 2 and a prior p(z) (N(0, I) or any log-density). The aggregate q(z), q(n | z) and
   the surgery terms are computed by the rectangle rule on a uniform grid (see ``GaussianMixtureToy``).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from .distributions import LOG_2PI, DiagonalGaussian, standard_normal_log_prob

__all__ = ["LinearGaussian", "GaussianMixtureToy", "evenly_spaced", "surgery_terms"]

Num = float | Tensor


def _t(x: Num) -> Tensor:
    return torch.as_tensor(x, dtype=torch.float64)


def _normal_log_prob(x: Tensor, mean: Num, var: Num) -> Tensor:
    var = _t(var)
    return -0.5 * (LOG_2PI + torch.log(var) + (x - mean) ** 2 / var)


def _kl_1d(m1: Num, v1: Num, m2: Num, v2: Num) -> Tensor:
    """KL(N(m1, v1) ‖ N(m2, v2)) = 1/2 [ v1/v2 + (m1 - m2)²/v2 - 1 - log(v1/v2) ] (1-D, broadcasting)."""
    m1, v1, m2, v2 = map(_t, (m1, v1, m2, v2))
    return 0.5 * (v1 / v2 + (m1 - m2) ** 2 / v2 - 1.0 - torch.log(v1 / v2))


class LinearGaussian:
    """z ~ N(0, prior_var), x | z ~ N(weight·z, noise_var); scalar parameters, float64 tensors."""

    def __init__(self, prior_var: float = 1.0, noise_var: float = 1.0, weight: float = 1.0) -> None:
        if prior_var <= 0 or noise_var <= 0:
            raise ValueError("prior_var and noise_var must be positive variances (not standard deviations).")
        self.prior_var, self.noise_var, self.weight = float(prior_var), float(noise_var), float(weight)

    def log_evidence(self, x: Num) -> Tensor:
        """log p(x) = log N(x; 0, a² s0² + s²), elementwise."""
        return _normal_log_prob(_t(x), 0.0, self.weight**2 * self.prior_var + self.noise_var)

    def posterior(self, x: Num) -> tuple[Tensor, Tensor]:
        """(m*, v*) of p(z | x): v* = 1/(1/s0² + a²/s²), m* = v* a x / s²."""
        v = 1.0 / (1.0 / self.prior_var + self.weight**2 / self.noise_var)
        return v * self.weight * _t(x) / self.noise_var, torch.full_like(_t(x), v)

    def log_prior(self, z: Num) -> Tensor:
        """log p(z) = log N(z; 0, s0²)."""
        return _normal_log_prob(_t(z), 0.0, self.prior_var)

    def log_likelihood(self, x: Num, z: Num) -> Tensor:
        """log p(x | z) = log N(x; a z, s²)."""
        return _normal_log_prob(_t(x), self.weight * _t(z), self.noise_var)

    def log_joint(self, x: Num, z: Num) -> Tensor:
        """log p(x, z) = log p(z) + log p(x | z)."""
        return self.log_prior(z) + self.log_likelihood(x, z)

    def expected_log_likelihood(self, x: Num, q_mean: Num, q_var: Num) -> Tensor:
        """E_q log p(x|z) = -1/2 log(2π s²) - [(x - a m)² + a² v] / (2 s²)."""
        x, m, v = _t(x), _t(q_mean), _t(q_var)
        a, s2 = self.weight, self.noise_var
        return -0.5 * (LOG_2PI + math.log(s2)) - ((x - a * m) ** 2 + a**2 * v) / (2.0 * s2)

    def expected_log_joint(self, x: Num, q_mean: Num, q_var: Num) -> Tensor:
        """E_q log p(x, z) = E_q log p(x|z) - 1/2 log(2π s0²) - (m² + v) / (2 s0²)."""
        m, v = _t(q_mean), _t(q_var)
        e_prior = -0.5 * (LOG_2PI + math.log(self.prior_var)) - (m**2 + v) / (2.0 * self.prior_var)
        return self.expected_log_likelihood(x, m, v) + e_prior

    def kl_to_prior(self, q_mean: Num, q_var: Num) -> Tensor:
        """KL(N(m, v) ‖ N(0, s0²)) = 1/2 [(m² + v)/s0² - 1 - log(v/s0²)]."""
        return _kl_1d(q_mean, q_var, 0.0, self.prior_var)

    def kl_to_posterior(self, x: Num, q_mean: Num, q_var: Num) -> Tensor:
        """KL(N(m, v) ‖ p(z | x)) with the closed-form posterior."""
        pm, pv = self.posterior(x)
        return _kl_1d(q_mean, q_var, pm, pv)

    @staticmethod
    def entropy(q_var: Num) -> Tensor:
        """H[N(m, v)] = 1/2 log(2π e v)."""
        return 0.5 * (LOG_2PI + 1.0 + torch.log(_t(q_var)))

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
        return self.log_joint(x, z) - _normal_log_prob(z, m, v)


class GaussianMixtureToy:
    """N encoders q(z | n) = N(mu_n, diag sigma_n²) in d = 1 or 2, and a prior; exact terms by quadrature.

    Shapes: ``mu`` (N, d); ``sigma`` (N, d), (N, 1) or a scalar (standard deviations). ``log_prior`` maps
    z (G, d) -> (G,); None means N(0, I).

    Quadrature: the rectangle rule on a uniform grid over the box mu ± ``cover``·sigma (per axis).
    For Gaussian-smooth integrands the rule is exponentially accurate (Poisson summation: error of order
    exp(-2π² sigma_min² / h²) for spacing h), so with h ≤ sigma_min/2 the discretization error is below
    1e-30; the truncation error is the mass outside the box, ≤ d·erfc(cover/√2) ≈ 1e-15 for cover = 8.
    The default grid keeps h ≤ sigma_min/4 (1-D: up to 200,001 points; 2-D: 400 to 1,200 points per axis);
    ``mass_error`` = |Σ_g q(z_g) h^d - 1| is reported as an empirical check of both errors.
    """

    def __init__(self, mu: Tensor, sigma: Num, log_prior: Callable[[Tensor], Tensor] | None = None,
                 points: int | None = None, cover: float = 8.0) -> None:
        mu = torch.as_tensor(mu, dtype=torch.float64)
        if mu.dim() == 1:
            mu = mu[:, None]
        if mu.dim() != 2 or mu.shape[1] not in (1, 2):
            raise ValueError(f"mu must have shape (N, d) with d = 1 or 2; got {tuple(mu.shape)}.")
        self.mu = mu
        self.sigma = torch.as_tensor(sigma, dtype=torch.float64).expand_as(mu).clone()
        if (self.sigma <= 0).any():
            raise ValueError("sigma must be positive standard deviations.")
        self.log_prior = log_prior
        self.n, self.d = mu.shape
        lo = (mu - cover * self.sigma).min(0).values
        hi = (mu + cover * self.sigma).max(0).values
        if points is None:
            want = int(math.ceil(float((hi - lo).max()) / (float(self.sigma.min()) / 4))) + 1
            points = min(max(want, 2001), 200_001) if self.d == 1 else min(max(want, 400), 1200)
        axes = [torch.linspace(float(lo[i]), float(hi[i]), int(points), dtype=torch.float64) for i in range(self.d)]
        self.axes = axes
        self.cell = math.prod(float(a[1] - a[0]) for a in axes)  # h^d
        mesh = torch.meshgrid(*axes, indexing="ij")
        self.grid = torch.stack([m.reshape(-1) for m in mesh], dim=-1)  # (G, d)

    @property
    def logvar(self) -> Tensor:
        """log sigma², shape (N, d) — the encoder output format used by ``elbo_course.surgery``."""
        return 2.0 * torch.log(self.sigma)

    def prior_log_prob(self, z: Tensor) -> Tensor:
        """log p(z) for z (G, d) -> (G,)."""
        return standard_normal_log_prob(z) if self.log_prior is None else self.log_prior(z).double()

    def component_log_prob(self, z: Tensor) -> Tensor:
        """log q(z | n) for z (G, d) -> (N, G)."""
        return DiagonalGaussian(self.mu[:, None, :], self.logvar[:, None, :]).log_prob(z[None])

    def log_aggregate(self, z: Tensor) -> Tensor:
        """log q(z) = logsumexp_n log q(z | n) - log N, z (G, d) -> (G,)."""
        return torch.logsumexp(self.component_log_prob(z), dim=0) - math.log(self.n)

    def index_posterior(self, z: Tensor) -> Tensor:
        """log q(n | z) = log q(z | n) - log Σ_n' q(z | n'), z (G, d) -> (N, G)."""
        comp = self.component_log_prob(z)
        return comp - torch.logsumexp(comp, dim=0, keepdim=True)

    def avg_kl(self) -> float:
        """(1/N) Σ_n KL(q(z|n) ‖ p(z)): closed form for N(0, I), else -H_n - ∫ q_n log p by quadrature."""
        q = DiagonalGaussian(self.mu, self.logvar)
        if self.log_prior is None:
            return float(q.kl_standard_normal().mean())
        cross = (self.component_log_prob(self.grid).exp() * self.prior_log_prob(self.grid)).sum(1) * self.cell
        return float((-q.entropy() - cross).mean())

    def terms(self) -> dict[str, float]:
        """All surgery terms; see ``surgery_terms`` for the keys. Streams over the grid (≈ 2e6 entries per block)."""
        exp_h = mkl = mass = 0.0
        step = max(1, 2_000_000 // self.n)
        for start in range(0, self.grid.shape[0], step):
            z = self.grid[start:start + step]
            comp = self.component_log_prob(z)  # (N, g)
            lse = torch.logsumexp(comp, dim=0)  # log Σ_n q(z|n)
            log_q = lse - math.log(self.n)
            q = log_q.exp() * self.cell  # quadrature weights of q(z)
            log_post = comp - lse
            h = -(log_post.exp() * log_post).sum(0)  # H[q(n | z)] at each grid point
            exp_h += float((q * h).sum())
            mkl += float((q * (log_q - self.prior_log_prob(z))).sum())
            mass += float(q.sum())
        akl = self.avg_kl()
        mi = math.log(self.n) - exp_h
        return {"avg_kl": akl, "mutual_info": mi, "marginal_kl": mkl, "expected_entropy": exp_h,
                "log_n": math.log(self.n), "identity_residual": akl - mi - mkl,
                "mass_error": abs(mass - 1.0), "grid_points": int(self.grid.shape[0])}

    def densities(self) -> tuple[Tensor, Tensor, Tensor]:
        """(grid (G, d), q(z) (G,), p(z) (G,)) for plots; reshape to the axes' lengths in 2-D."""
        return self.grid, self.log_aggregate(self.grid).exp(), self.prior_log_prob(self.grid).exp()


def evenly_spaced(n: int, spacing: float = 1.0, width: float = 0.5, d: int = 1,
                  log_prior: Callable[[Tensor], Tensor] | None = None, points: int | None = None) -> GaussianMixtureToy:
    """n encoders of standard deviation ``width`` with centers ``spacing`` apart, centred on the origin.

    d = 1: centers (i - (n-1)/2)·spacing. d = 2: a lattice with ceil(sqrt(n)) columns filled row by row,
    then shifted so the centers' mean is the origin.
    """
    if n < 1 or spacing < 0 or width <= 0:
        raise ValueError("need n >= 1, spacing >= 0 and width > 0.")
    idx = torch.arange(n, dtype=torch.float64)
    if d == 1:
        mu = ((idx - (n - 1) / 2) * spacing)[:, None]
    elif d == 2:
        cols = math.ceil(math.sqrt(n))
        mu = torch.stack([idx % cols, torch.div(idx, cols, rounding_mode="floor")], dim=-1) * spacing
        mu = mu - mu.mean(0)
    else:
        raise ValueError("evenly_spaced supports d = 1 or d = 2 (quadrature on a grid).")
    return GaussianMixtureToy(mu, width, log_prior=log_prior, points=points)


def surgery_terms(n: int = 5, spacing: float = 1.0, width: float = 0.5, d: int = 1) -> dict[str, float]:
    """Exact ELBO-surgery terms for ``evenly_spaced(n, spacing, width, d)`` with prior N(0, I).

    Keys: avg_kl = (1/N) Σ_n KL(q(z|n) ‖ p(z)) (closed form), mutual_info = log N - E_q(z) H[q(n|z)],
    marginal_kl = KL(q(z) ‖ p(z)), expected_entropy, log_n, identity_residual = avg_kl - mutual_info -
    marginal_kl (≈ 0 up to quadrature error), mass_error, grid_points. A plain function for lesson widgets.
    """
    return evenly_spaced(n, spacing, width, d).terms()
