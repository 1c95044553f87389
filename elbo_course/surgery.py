"""ELBO surgery (Hoffman & Johnson, 2016): the average KL to the prior splits into two terms,

    (1/N) Σ_n KL(q(z|x_n) ‖ p(z)) = I_q(n; z) + KL(q(z) ‖ p(z)),
    q(z) = (1/N) Σ_n N(z; mu_n, diag sigma_n²)          (the aggregate posterior, N components)
    I_q(n; z) = log N - E_q(z) H[q(n | z)],   q(n | z) = N(z; mu_n, sigma_n²) / Σ_n' N(z; mu_n', sigma_n'²),

so ELBO = avg_recon - I - marginal KL. KL(q(z) ‖ p(z)) has no closed form: it is estimated by Monte Carlo
with z ~ q(z) (pick n uniformly, then z ~ q(z|x_n)).

Shapes: z (M, d) samples, mu and logvar (N, d) encoder outputs (N up to 60,000). log q(z) needs all
M×N component densities; they are computed in blocks with one matmul per block, using
    Σ_i (z_i - mu_ni)² / sigma_ni² = z² · (1/sigma_n²) - 2 z · (mu_n/sigma_n²) + Σ_i mu_ni²/sigma_ni²,
and a streaming log-sum-exp accumulated in float64, so memory stays bounded for any N and M.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from .bounds import mean_and_se
from .distributions import LOG_2PI, DiagonalGaussian, standard_normal_log_prob

__all__ = [
    "aggregate_log_density",
    "aggregate_log_density_and_entropy",
    "index_log_posterior",
    "sample_aggregate",
    "marginal_kl",
    "expected_posterior_entropy",
    "mutual_information",
    "decompose",
]

LogPrior = Callable[[Tensor], Tensor]
ROW_CHUNK = 256  # rows per block; 256 x 1024 blocks (2 MB in float64) stay in cache


def _features(z: Tensor, mu: Tensor, logvar: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Rows of A (M, 2d+1) and B (N, 2d+1) with A @ Bᵀ = log N(z_m; mu_n, sigma_n²) (all in float64 first).

    A = [z², z, 1], B = -1/2 [1/sigma², -2 mu/sigma², Σ mu²/sigma² + Σ logvar + d log 2π]. Both are
    centred on the mean of mu first (the quadratic form is shift invariant) to limit cancellation.
    """
    z, mu, logvar = z.double(), mu.double(), logvar.double()
    shift = mu.mean(0)
    z, mu = z - shift, mu - shift
    prec = torch.exp(-logvar)
    const = (mu.pow(2) * prec).sum(1, keepdim=True) + logvar.sum(1, keepdim=True) + mu.shape[1] * LOG_2PI
    b = -0.5 * torch.cat([prec, -2.0 * mu * prec, const], dim=1)
    a = torch.cat([z.pow(2), z, torch.ones_like(z[:, :1])], dim=1)
    return a.to(dtype), b.to(dtype)


def _stream(z: Tensor, mu: Tensor, logvar: Tensor, chunk_size: int, entropy: bool,
            matmul_dtype: torch.dtype) -> tuple[Tensor, Tensor | None]:
    """Streaming pass over blocks (rows of z) × (chunk_size components).

    Per row keeps the running max m, S = Σ_n e^{l_n - m} and U = Σ_n e^{l_n - m} (l_n - m) in float64,
    where l_n = log N(z; mu_n, sigma_n²). Then log Σ_n e^{l_n} = m + log S and
    H[q(n|z)] = log Σ e^{l} - Σ_n (e^{l_n}/Σ e^{l}) l_n = log S - U / S.
    """
    if z.dim() != 2 or mu.dim() != 2 or mu.shape != logvar.shape or z.shape[1] != mu.shape[1]:
        raise ValueError(f"expected z (M, d), mu and logvar (N, d); got {tuple(z.shape)}, {tuple(mu.shape)}, "
                         f"{tuple(logvar.shape)}.")
    a, b = _features(z, mu, logvar, matmul_dtype)
    floor = -80.0 if matmul_dtype == torch.float32 else -700.0
    n_total = mu.shape[0]
    lse_out = torch.empty(z.shape[0], dtype=torch.float64)
    ent_out = torch.empty(z.shape[0], dtype=torch.float64) if entropy else None
    for r0 in range(0, z.shape[0], ROW_CHUNK):
        ar = a[r0:r0 + ROW_CHUNK]
        m = s = u = None
        for c0 in range(0, n_total, chunk_size):
            block = ar @ b[c0:c0 + chunk_size].T  # (rows, cols) log densities l_n
            bmax = block.max(dim=1).values.double()
            m_new = bmax if m is None else torch.maximum(m, bmax)
            block.sub_(m_new.to(block.dtype)[:, None])  # l_n - m, in place
            block.clamp_min_(floor)  # e^floor ≈ 0; avoids slow subnormal arithmetic
            e = block.exp()
            s_blk = e.sum(1, dtype=torch.float64)
            u_blk = e.mul_(block).sum(1, dtype=torch.float64) if entropy else None
            if m is None:
                s, u = s_blk, u_blk
            else:
                delta = m - m_new  # ≤ 0
                scale = delta.exp()
                if entropy:
                    u = scale * (u + delta * s) + u_blk
                s = scale * s + s_blk
            m = m_new
        lse_out[r0:r0 + ROW_CHUNK] = m + s.log()
        if entropy:
            ent_out[r0:r0 + ROW_CHUNK] = (s.log() - u / s).clamp_min(0.0)
    return lse_out, ent_out


def aggregate_log_density(z: Tensor, mu: Tensor, logvar: Tensor, chunk_size: int = 1024,
                          matmul_dtype: torch.dtype = torch.float64) -> Tensor:
    """log q(z) = log (1/N) Σ_n N(z; mu_n, diag exp(logvar_n)); z (M, d), mu/logvar (N, d) -> (M,) float64.

    Memory is O(ROW_CHUNK · chunk_size) whatever N and M. ``matmul_dtype=torch.float32`` does the block
    matmul and exponentials in float32 (0.7–1.0× the float64 time in benchmarks/bench_marginal_kl.py; absolute
    error ~1e-5 when |z|, |mu| ≲ 10 and sigma ≳ 0.1, since the expanded square cancels in float32) while
    the sums across blocks stay float64. Prefer float64 (the default) for very narrow encoders.
    """
    lse, _ = _stream(z, mu, logvar, chunk_size, False, matmul_dtype)
    return lse - math.log(mu.shape[0])


def aggregate_log_density_and_entropy(z: Tensor, mu: Tensor, logvar: Tensor, chunk_size: int = 1024,
                                      matmul_dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """(log q(z), H[q(n | z)]) for each row of z, both (M,) float64, in one streaming pass."""
    lse, ent = _stream(z, mu, logvar, chunk_size, True, matmul_dtype)
    return lse - math.log(mu.shape[0]), ent


def index_log_posterior(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log q(n | z) = log N(z; mu_n, sigma_n²) - log Σ_n' N(z; mu_n', sigma_n'²); (M, d) -> (M, N) float64.

    Materializes the full (M, N) matrix: use it for small N (plots, exercises); the streaming functions
    above compute its entropy without storing it.
    """
    comp = DiagonalGaussian(mu.double()[None], logvar.double()[None]).log_prob(z.double()[:, None, :])
    return comp - torch.logsumexp(comp, dim=1, keepdim=True)


def sample_aggregate(mu: Tensor, logvar: Tensor, m: int, generator: torch.Generator | None = None) -> Tensor:
    """M draws from q(z): n ~ Uniform{1..N}, then z = mu_n + sigma_n ε; (N, d) -> (M, d), dtype of mu."""
    idx = torch.randint(mu.shape[0], (m,), generator=generator)
    return DiagonalGaussian(mu[idx], logvar[idx]).sample(generator=generator)


def _log_prior(z: Tensor, log_prior: LogPrior | None, dtype: torch.dtype) -> Tensor:
    """log p(z) (M,) float64; a callable prior gets z in ``dtype`` in row chunks, without gradients."""
    if log_prior is None:
        return standard_normal_log_prob(z.double())
    with torch.no_grad():
        parts = [log_prior(z[i:i + ROW_CHUNK].to(dtype)).double() for i in range(0, z.shape[0], ROW_CHUNK)]
    out = torch.cat(parts)
    if out.shape != (z.shape[0],):
        raise ValueError(f"log_prior must map z (M, d) to (M,); got shape {tuple(out.shape)}.")
    return out


def marginal_kl(mu: Tensor, logvar: Tensor, log_prior: LogPrior | None = None, num_samples: int = 10_000,
                generator: torch.Generator | None = None, chunk_size: int = 1024,
                matmul_dtype: torch.dtype = torch.float64) -> tuple[float, float]:
    """KL(q(z) ‖ p(z)) ≈ (1/M) Σ_m [log q(z_m) - log p(z_m)], z_m ~ q(z); returns (value, standard error).

    ``log_prior`` maps z (M, d) -> (M,); None is N(0, I).
    """
    mu, logvar = mu.detach(), logvar.detach()
    z = sample_aggregate(mu, logvar, num_samples, generator)
    log_q = aggregate_log_density(z, mu, logvar, chunk_size, matmul_dtype)
    value, se = mean_and_se(log_q - _log_prior(z, log_prior, mu.dtype))
    return float(value), float(se)


def expected_posterior_entropy(mu: Tensor, logvar: Tensor, num_samples: int = 10_000,
                               generator: torch.Generator | None = None, chunk_size: int = 1024,
                               matmul_dtype: torch.dtype = torch.float64) -> tuple[float, float]:
    """E_q(z) H[q(n | z)] ≈ (1/M) Σ_m H[q(n | z_m)], z_m ~ q(z); returns (value, standard error) in nats."""
    mu, logvar = mu.detach(), logvar.detach()
    z = sample_aggregate(mu, logvar, num_samples, generator)
    _, ent = aggregate_log_density_and_entropy(z, mu, logvar, chunk_size, matmul_dtype)
    value, se = mean_and_se(ent)
    return float(value), float(se)


def mutual_information(mu: Tensor, logvar: Tensor, num_samples: int = 10_000,
                       generator: torch.Generator | None = None, chunk_size: int = 1024,
                       matmul_dtype: torch.dtype = torch.float64) -> tuple[float, float]:
    """Index-code mutual information I(n; z) = log N - E_q(z) H[q(n | z)] in [0, log N]; (value, se)."""
    h, se = expected_posterior_entropy(mu, logvar, num_samples, generator, chunk_size, matmul_dtype)
    return math.log(mu.shape[0]) - h, se


def decompose(mu: Tensor, logvar: Tensor, avg_recon: float | Tensor, log_prior: LogPrior | None = None,
              num_samples: int = 10_000, generator: torch.Generator | None = None, chunk_size: int = 1024,
              matmul_dtype: torch.dtype = torch.float64) -> dict[str, float]:
    """The surgery of an ELBO = avg_recon - avg_kl = avg_recon - mutual_info - marginal_kl.

    mu, logvar (N, d): encoder outputs on the N data points; avg_recon = (1/N) Σ_n E_q log p(x_n | z)
    (computed by the caller). avg_kl is closed form, (1/N) Σ_n 1/2 Σ_i (mu² + sigma² - logvar - 1), when
    ``log_prior`` is None (N(0, I)); otherwise avg_kl = -(1/N) Σ_n H[q(z|x_n)] - E_q(z) log p(z) by Monte
    Carlo. The mutual information, the marginal KL and (for a general prior) avg_kl use three
    independent sample sets of size ``num_samples``, so identity_residual = avg_kl - mutual_info -
    marginal_kl is a real check: it should be within a few identity_residual_se of zero, with
    identity_residual_se = sqrt(se_mi² + se_mkl² + se_avg_kl²).
    """
    mu, logvar = mu.detach(), logvar.detach()
    q = DiagonalGaussian(mu.double(), logvar.double())
    if log_prior is None:
        avg_kl, avg_kl_se = float(q.kl_standard_normal().mean()), 0.0
    else:
        z = sample_aggregate(mu, logvar, num_samples, generator)
        cross, avg_kl_se = mean_and_se(_log_prior(z, log_prior, mu.dtype))
        avg_kl, avg_kl_se = float(-q.entropy().mean() - cross), float(avg_kl_se)
    mi, mi_se = mutual_information(mu, logvar, num_samples, generator, chunk_size, matmul_dtype)
    mkl, mkl_se = marginal_kl(mu, logvar, log_prior, num_samples, generator, chunk_size, matmul_dtype)
    recon = float(avg_recon)
    return {
        "avg_recon": recon,
        "avg_kl": avg_kl,
        "avg_kl_se": avg_kl_se,
        "mutual_info": mi,
        "mutual_info_se": mi_se,
        "marginal_kl": mkl,
        "marginal_kl_se": mkl_se,
        "identity_residual": avg_kl - mi - mkl,
        "identity_residual_se": math.sqrt(mi_se**2 + mkl_se**2 + avg_kl_se**2),
        "log_n": math.log(mu.shape[0]),
        "elbo": recon - avg_kl,
        "num_samples": int(num_samples),
    }
