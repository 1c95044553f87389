"""Gaussian-mixture toys with exact ELBO-surgery terms, and the decoder and priors of lesson 05 (float64).

A finite data set of N points with Gaussian encoders q(z | n) = N(mu_n, diag sigma_n²) in d = 1 or 2 and
a prior p(z) (N(0, I) or any log-density). With q(z) = (1/N) Σ_n q(z | n) and q(n | z) = q(z | n) / Σ_n'
q(z | n') (``elbo_course.surgery``), the terms of Hoffman & Johnson's identity

    (1/N) Σ_n KL(q(z|n) ‖ p(z)) = I(n; z) + KL(q(z) ‖ p(z)),   I(n; z) = log N - E_q(z) H[q(n | z)]

are integrals over z, computed by the rectangle rule on a uniform grid (see ``GaussianMixtureToy``).

Lesson 05 adds data and a decoder: x_n = mu_n (the encoder mean of x_n is the point itself) and
p(x | z) = N(x; z, tau² I) with tau = ``decoder_std`` (``DECODER_STD`` = 0.5 unless told). Then

    avg_recon     = (1/N) Σ_n E_q(z|x_n) log N(x_n; z, tau² I)
                  = -d/2 log(2π tau²) - (1/N) Σ_n (‖x_n - mu_n‖² + Σ_i sigma_ni²) / (2 tau²)
    elbo          = avg_recon - mutual_info - marginal_kl
    log_evidence  = (1/N) Σ_n log p(x_n),  p(x) = (1/C) Σ_c N(x; m_c, (s_c² + tau²) I)  ≥ elbo

for a prior that is an equal-weight Gaussian mixture ``priors.MixtureOfGaussians`` with (means, logvar)
of shape (C, d), chosen by ``PRIOR_KINDS``:
    "standard"   N(0, I)                                            (C = 1)
    "fitted"     the moment-matched Gaussian N(m, diag v): m = mean_n mu_n, v = mean_n [sigma_n² + (mu_n - m)²]
                 (the Gaussian p minimizing KL(q(z) ‖ p))           (C = 1)
    "aggregate"  q(z) itself, (1/N) Σ_n N(mu_n, sigma_n²)             (C = N; then marginal_kl = 0)

``surgery_state`` is the plain callback of lesson 05's explorer widget (``elbo_course.figures.lesson05``).

Lesson 05 also checks each line (a)–(f) of the derivation of the identity (``DERIVATION_LINES``) by
quadrature and by Monte Carlo over (n, z) ~ q(n, z) = q(z | n) / N; ``derivation_integrands`` states them.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from ..distributions import DiagonalGaussian, standard_normal_log_prob
from ..priors import MixtureOfGaussians
from ..bounds import mean_and_se
from ..surgery import aggregate_log_density_and_entropy, index_log_posterior, marginal_kl, mutual_information

__all__ = ["GaussianMixtureToy", "evenly_spaced_means", "evenly_spaced", "surgery_terms", "DECODER_STD",
           "PRIOR_KINDS", "prior_components", "mixture_prior", "average_reconstruction", "average_log_evidence",
           "surgery_state", "DERIVATION_LINES", "derivation_integrands", "derivation_lines_quadrature",
           "derivation_lines_mc"]

Num = float | Tensor
LogDensity = Callable[[Tensor], Tensor]
DECODER_STD = 0.5
PRIOR_KINDS = ("standard", "fitted", "aggregate")


class GaussianMixtureToy:
    """N encoders q(z | n) = N(mu_n, diag sigma_n²) in d = 1 or 2, and a prior; exact terms by quadrature.

    Shapes: ``mu`` (N, d); ``sigma`` (N, d), (N, 1) or a scalar (standard deviations). ``log_prior`` maps
    z (G, d) -> (G,) (e.g. ``MixtureOfGaussians(...).log_prob``); None means N(0, I).

    Quadrature: the rectangle rule on a uniform grid over the box mu ± ``cover``·sigma (per axis).
    For Gaussian-smooth integrands the rule is exponentially accurate (Poisson summation: error of order
    exp(-2π² sigma_min² / h²) for spacing h), so with h ≤ sigma_min/2 the discretization error is below
    1e-30; the truncation error is the mass outside the box, ≤ d·erfc(cover/√2) ≈ 1e-15 for cover = 8.
    The default grid keeps h ≤ sigma_min/4 (1-D: up to 200,001 points; 2-D: 400 to 1,200 points per axis);
    ``mass_error`` = |Σ_g q(z_g) h^d - 1| is reported as an empirical check of both errors.
    """

    def __init__(self, mu: Tensor, sigma: Num, log_prior: LogDensity | None = None,
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
        """log p(z) for z (G, d) -> (G,) float64."""
        return standard_normal_log_prob(z) if self.log_prior is None else self.log_prior(z).double()

    def component_log_prob(self, z: Tensor) -> Tensor:
        """log q(z | n) = log N(z; mu_n, diag sigma_n²) for z (G, d) -> (N, G)."""
        return DiagonalGaussian(self.mu[:, None, :], self.logvar[:, None, :]).log_prob(z[None])

    def log_aggregate(self, z: Tensor) -> Tensor:
        """log q(z) = logsumexp_n log q(z | n) - log N, z (G, d) -> (G,)."""
        return torch.logsumexp(self.component_log_prob(z), dim=0) - math.log(self.n)

    def index_posterior(self, z: Tensor) -> Tensor:
        """log q(n | z) = log q(z | n) - log Σ_n' q(z | n'), z (G, d) -> (N, G) (``surgery.index_log_posterior``ᵀ)."""
        return index_log_posterior(z, self.mu, self.logvar).T

    def avg_kl(self) -> float:
        """(1/N) Σ_n KL(q(z|n) ‖ p(z)): closed form for N(0, I), else -H_n - ∫ q_n log p by quadrature."""
        q = DiagonalGaussian(self.mu, self.logvar)
        if self.log_prior is None:
            return float(q.kl_standard_normal().mean())
        cross = (self.component_log_prob(self.grid).exp() * self.prior_log_prob(self.grid)).sum(1) * self.cell
        return float((-q.entropy() - cross).mean())

    def terms(self) -> dict[str, float]:
        """All surgery terms; see ``surgery_terms`` for the keys.

        One streaming pass of ``surgery.aggregate_log_density_and_entropy`` over the grid gives log q(z_g)
        and H[q(n | z_g)]; with weights w_g = q(z_g) h^d: E_q(z) H = Σ_g w_g H_g and
        KL(q(z) ‖ p(z)) = Σ_g w_g (log q(z_g) - log p(z_g)).
        """
        log_q, entropy = aggregate_log_density_and_entropy(self.grid, self.mu, self.logvar)
        weight = log_q.exp() * self.cell
        exp_h = float((weight * entropy).sum())
        mkl = float((weight * (log_q - self.prior_log_prob(self.grid))).sum())
        akl = self.avg_kl()
        mi = math.log(self.n) - exp_h
        return {"avg_kl": akl, "mutual_info": mi, "marginal_kl": mkl, "expected_entropy": exp_h,
                "log_n": math.log(self.n), "identity_residual": akl - mi - mkl,
                "mass_error": abs(float(weight.sum()) - 1.0), "grid_points": int(self.grid.shape[0])}

    def densities(self) -> tuple[Tensor, Tensor, Tensor]:
        """(grid (G, d), q(z) (G,), p(z) (G,)) for plots; reshape to the axes' lengths in 2-D."""
        return self.grid, self.log_aggregate(self.grid).exp(), self.prior_log_prob(self.grid).exp()


def evenly_spaced_means(n: int, spacing: float = 1.0, d: int = 1) -> Tensor:
    """n centres ``spacing`` apart with mean 0, shape (n, d) float64.

    d = 1: (i - (n-1)/2)·spacing. d = 2: a lattice with ceil(sqrt(n)) columns filled row by row, shifted so
    that the centres' mean is the origin.
    """
    if n < 1 or spacing < 0:
        raise ValueError("need n >= 1 and spacing >= 0.")
    idx = torch.arange(n, dtype=torch.float64)
    if d == 1:
        return ((idx - (n - 1) / 2) * spacing)[:, None]
    if d == 2:
        cols = math.ceil(math.sqrt(n))
        mu = torch.stack([idx % cols, torch.div(idx, cols, rounding_mode="floor")], dim=-1) * spacing
        return mu - mu.mean(0)
    raise ValueError("evenly_spaced supports d = 1 or d = 2 (quadrature on a grid).")


def evenly_spaced(n: int, spacing: float = 1.0, width: float = 0.5, d: int = 1,
                  log_prior: LogDensity | None = None, points: int | None = None) -> GaussianMixtureToy:
    """n encoders of standard deviation ``width`` at ``evenly_spaced_means(n, spacing, d)``."""
    if n < 1 or spacing < 0 or width <= 0:
        raise ValueError("need n >= 1, spacing >= 0 and width > 0.")
    return GaussianMixtureToy(evenly_spaced_means(n, spacing, d), width, log_prior=log_prior, points=points)


def surgery_terms(n: int = 5, spacing: float = 1.0, width: float = 0.5, d: int = 1) -> dict[str, float]:
    """Exact ELBO-surgery terms for ``evenly_spaced(n, spacing, width, d)`` with prior N(0, I).

    Keys: avg_kl = (1/N) Σ_n KL(q(z|n) ‖ p(z)) (closed form), mutual_info = log N - E_q(z) H[q(n|z)],
    marginal_kl = KL(q(z) ‖ p(z)), expected_entropy, log_n, identity_residual = avg_kl - mutual_info -
    marginal_kl (≈ 0 up to quadrature error), mass_error, grid_points.
    """
    return evenly_spaced(n, spacing, width, d).terms()


def prior_components(kind: str, mu: Tensor, sigma: Num) -> tuple[Tensor, Tensor]:
    """(means (C, d), logvar (C, d)) float64 of the prior ``kind`` (see ``PRIOR_KINDS``) for encoders
    mu (N, d) and sigma (N, d) or broadcastable standard deviations."""
    mu = mu.double()
    sigma = torch.as_tensor(sigma, dtype=torch.float64).expand_as(mu)
    if kind == "standard":
        return torch.zeros_like(mu[:1]), torch.zeros_like(mu[:1])
    if kind == "fitted":
        m = mu.mean(0, keepdim=True)
        v = (sigma.pow(2) + (mu - m).pow(2)).mean(0, keepdim=True)
        return m, v.log()
    if kind == "aggregate":
        return mu.clone(), 2.0 * sigma.log()
    raise ValueError(f"Unknown prior {kind!r}; choose one of {', '.join(PRIOR_KINDS)}.")


def mixture_prior(kind: str, mu: Tensor, sigma: Num) -> MixtureOfGaussians:
    """The fixed prior ``kind`` for encoders (mu, sigma) as a ``MixtureOfGaussians`` (float64 buffers);
    its ``log_prob`` maps z (..., d) -> (...)."""
    return MixtureOfGaussians.from_components(*prior_components(kind, mu, sigma))


def average_reconstruction(x: Tensor, mu: Tensor, sigma: Num, decoder_std: float = DECODER_STD) -> float:
    """(1/N) Σ_n E_N(z; mu_n, sigma_n²) log N(x_n; z, tau² I) = (1/N) Σ_n [log N(x_n; mu_n, tau² I)
    - Σ_i sigma_ni² / (2 tau²)]; x, mu (N, d), sigma (N, d) or broadcastable."""
    x, mu = x.double(), mu.double()
    sigma = torch.as_tensor(sigma, dtype=torch.float64).expand_as(mu)
    decoder = DiagonalGaussian(mu, torch.full_like(mu, 2.0 * math.log(decoder_std)))
    return float((decoder.log_prob(x) - sigma.pow(2).sum(1) / (2.0 * decoder_std**2)).mean())


def average_log_evidence(x: Tensor, means: Tensor, logvar: Tensor, decoder_std: float = DECODER_STD) -> float:
    """(1/N) Σ_n log p(x_n) with p(z) the mixture (means, logvar) (C, d) and p(x|z) = N(z, tau² I): the
    marginal is the mixture with variances exp(logvar_c) + tau²; x (N, d). Exact."""
    widened = torch.log(logvar.double().exp() + decoder_std**2)
    return float(MixtureOfGaussians.from_components(means.double(), widened).log_prob(x.double()).mean())


def surgery_state(width: float = 0.5, spacing: float = 1.0, n_components: int = 8, prior: str = "standard",
                  dim: int = 1, decoder_std: float = DECODER_STD) -> dict:
    """Every number and curve of one explorer setting (the widget callback; float64, no sampling).

    Returns floats avg_recon, avg_kl, mutual_info, marginal_kl, elbo, log_evidence, log_n, the settings,
    and for d = 1 the plotting arrays z (P,), q_z (P,), p_z (P,), components (N, P) = q(z | x_n) / N.
    """
    if not width > 0 or spacing < 0 or n_components < 1:
        raise ValueError("need width > 0, spacing >= 0 and n_components >= 1.")
    mu = evenly_spaced_means(n_components, spacing, dim)
    means, logvar = prior_components(prior, mu, width)
    toy = GaussianMixtureToy(mu, width, log_prior=MixtureOfGaussians.from_components(means, logvar).log_prob)
    terms = toy.terms()
    x = toy.mu  # the data points: the encoder mean of x_n is x_n itself
    recon = average_reconstruction(x, toy.mu, toy.sigma, decoder_std)
    state = {"width": float(width), "spacing": float(spacing), "n_components": int(n_components), "prior": prior,
             "dim": int(dim), "decoder_std": float(decoder_std), "avg_recon": recon, "avg_kl": terms["avg_kl"],
             "mutual_info": terms["mutual_info"], "marginal_kl": terms["marginal_kl"], "log_n": terms["log_n"],
             "elbo": recon - terms["mutual_info"] - terms["marginal_kl"],
             "log_evidence": average_log_evidence(x, means, logvar, decoder_std)}
    if dim == 1:
        half = max(4.0, float(x.abs().max()) + 4.0 * width)
        z = torch.linspace(-half, half, 801, dtype=torch.float64)[:, None]
        state["z"] = z[:, 0]
        state["components"] = toy.component_log_prob(z).exp() / n_components
        state["q_z"] = toy.log_aggregate(z).exp()
        state["p_z"] = toy.prior_log_prob(z).exp()
    return state


DERIVATION_LINES = ("(a) avg KL", "(b) KL(q(n,z)||p(n,z))", "(c) E log q(z)q(n|z)/p(z)p(n)",
                    "(d) mKL + E KL(q(n|z)||p(n))", "(e) mKL + log N - E H", "(f) mKL + I (package)")


def derivation_integrands(toy: GaussianMixtureToy, z: Tensor) -> dict[str, Tensor]:
    """The integrand of each line (a)–(e) at (n, z_g) for every n and z (G, d): each (N, G); its
    expectation under q(n, z) is that line's value. With log N = -log q(n) = -log p(n):
        (a) log q(z|n) - log p(z)                    (b) [log q(z|n) - log N] - [log p(z) - log N]
        (c) log q(z) - log p(z) + log q(n|z) + log N
        (d) log q(z) - log p(z) + Σ_n' q(n'|z) [log q(n'|z) + log N]      (KL(q(n|z) ‖ p(n)); no n)
        (e) log q(z) - log p(z) + log N - H[q(n|z)]                          (no n)
    """
    log_qzn, log_post = toy.component_log_prob(z), toy.index_posterior(z)    # (N, G) each
    log_n = math.log(toy.n)
    log_qz = torch.logsumexp(log_qzn, dim=0) - log_n
    log_ratio = log_qz - toy.prior_log_prob(z)                               # log q(z)/p(z), (G,)
    kl_index = (log_post.exp() * (log_post + log_n)).sum(0)                  # KL(q(n|z) ‖ p(n)), (G,)
    entropy = -(log_post.exp() * log_post).sum(0)                            # H[q(n|z)], (G,)
    values = [log_qzn - toy.prior_log_prob(z), (log_qzn - log_n) - (toy.prior_log_prob(z) - log_n),
              log_ratio + log_post + log_n, (log_ratio + kl_index).expand_as(log_qzn),
              (log_ratio + log_n - entropy).expand_as(log_qzn)]
    return dict(zip(DERIVATION_LINES, values))


def derivation_lines_quadrature(toy: GaussianMixtureToy) -> dict[str, float]:
    """Each line's value Σ_n Σ_g w_ng f(n, z_g) with w_ng = q(z_g | n) h^d / N (rectangle rule on the
    toy's grid); line (f) is KL(q(z) ‖ p(z)) + I(n; z) from the same weights."""
    integrands = derivation_integrands(toy, toy.grid)
    weight = toy.component_log_prob(toy.grid).exp() * (toy.cell / toy.n)      # q(n, z) h^d, (N, G)
    out = {line: float((weight * value).sum()) for line, value in integrands.items()}
    out[DERIVATION_LINES[5]] = out[DERIVATION_LINES[2]]  # (f) = mKL + E log q(n|z)/p(n): line (c) regrouped
    return out


def derivation_lines_mc(toy: GaussianMixtureToy, m: int, generator: torch.Generator) -> dict[str, tuple[float, float]]:
    """Monte Carlo (value, se) of every line: for (a)–(e) a fresh sample of m pairs n ~ Uniform{1..N},
    z ~ q(z | n) per line, averaging f(n, z); for (f) ``surgery.marginal_kl`` + ``surgery.mutual_information``
    on two more samples (standard errors added in quadrature). All draws come from ``generator``, in order."""
    out = {}
    for line in DERIVATION_LINES[:5]:
        n = torch.randint(toy.n, (m,), generator=generator)
        z = DiagonalGaussian(toy.mu[n], toy.logvar[n]).sample(generator=generator)   # (m, d)
        per_draw = derivation_integrands(toy, z)[line][n, torch.arange(m)]            # f(n_j, z_j), (m,)
        value, se = mean_and_se(per_draw)
        out[line] = (float(value), float(se))
    mkl, mkl_se = marginal_kl(toy.mu, toy.logvar, toy.log_prior, num_samples=m, generator=generator)
    mi, mi_se = mutual_information(toy.mu, toy.logvar, num_samples=m, generator=generator)
    out[DERIVATION_LINES[5]] = (mkl + mi, math.hypot(mkl_se, mi_se))
    return out
