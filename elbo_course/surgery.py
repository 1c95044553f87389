"""ELBO surgery (Hoffman & Johnson, 2016): the average KL to the prior splits into two terms,

    (1/N) Σ_n KL(q(z|x_n) ‖ p(z)) = I_q(n; z) + KL(q(z) ‖ p(z)),
    q(z) = (1/N) Σ_n N(z; mu_n, diag sigma_n²)          (the aggregate posterior, N components)
    I_q(n; z) = log N - E_q(z) H[q(n | z)],   q(n | z) = N(z; mu_n, sigma_n²) / Σ_n' N(z; mu_n', sigma_n'²),

so ELBO = avg_recon - I - marginal KL. KL(q(z) ‖ p(z)) has no closed form: it is estimated by Monte Carlo
with z ~ q(z) (pick n uniformly, then z ~ q(z|x_n)). I(n; z) has two estimators: ``mutual_information``
averages log N - H[q(n | z)] over z ~ q(z); ``mutual_information_from_pairs`` averages the log ratio of its
definition, log q(z | x_n) - log q(z), over pairs (n, z) ~ q(n, z). ``prior_holes`` looks from the other
side, with draws z ~ p(z): how often does the prior land where q(z) is thin?

Shapes: z (M, d) samples, mu and logvar (N, d) encoder outputs (N up to 60,000). log q(z) needs all
M×N component densities; they are computed in blocks with one matmul per block, using
    Σ_i (z_i - mu_ni)² / sigma_ni² = z² · (1/sigma_n²) - 2 z · (mu_n/sigma_n²) + Σ_i mu_ni²/sigma_ni²,
and a streaming log-sum-exp accumulated in float64, so memory stays bounded for any N and M.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor

from .bounds import mean_and_se
from .distributions import LOG_2PI, DiagonalGaussian, standard_normal_log_prob

__all__ = [
    "mixture_log_density",
    "aggregate_log_density",
    "aggregate_log_density_and_entropy",
    "index_log_posterior",
    "sample_joint",
    "sample_aggregate",
    "marginal_kl",
    "expected_posterior_entropy",
    "mutual_information",
    "mutual_information_from_pairs",
    "prior_holes",
    "decompose",
]

LogPrior = Callable[[Tensor], Tensor]
ROW_CHUNK = 256  # rows per block; 256 x 1024 blocks (2 MB in float64) stay in cache
EXACT_TOLERANCE = 1e-7  # nats: above this rounding bound, blocks are computed without the expanded square


def _features(z: Tensor, mu: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor]:
    """Rows of A (M, 2d+1) and B (N, 2d+1) with A @ Bᵀ = log N(z_m; mu_n, sigma_n²), in the inputs' dtype.

    A = [z², z, 1], B = -1/2 [1/sigma², -2 mu/sigma², Σ mu²/sigma² + Σ logvar + d log 2π]. Both are
    centred on the mean of mu first (the quadratic form is shift invariant) to limit cancellation.
    Differentiable (no in-place operations).
    """
    shift = mu.detach().mean(0)
    z, mu = z - shift, mu - shift
    prec = torch.exp(-logvar)
    const = (mu.pow(2) * prec).sum(1, keepdim=True) + logvar.sum(1, keepdim=True) + mu.shape[1] * LOG_2PI
    b = -0.5 * torch.cat([prec, -2.0 * mu * prec, const], dim=1)
    a = torch.cat([z.pow(2), z, torch.ones_like(z[:, :1])], dim=1)
    return a, b


def _check_shapes(z: Tensor | None, mu: Tensor, logvar: Tensor) -> None:
    """Tensors of floats, z (M, d) (unless None), mu and logvar (N, d) with N >= 1, finite, and variances
    (and their inverses) that float64 can represent; otherwise an error that says what was expected."""
    named = (("z", z), ("mu", mu), ("logvar", logvar)) if z is not None else (("mu", mu), ("logvar", logvar))
    for name, value in named:
        if not isinstance(value, Tensor) or not value.is_floating_point():
            kind = value.dtype if isinstance(value, Tensor) else type(value).__name__
            raise TypeError(f"{name} must be a floating-point torch.Tensor, got {kind}; convert it with "
                            f"torch.as_tensor({name}, dtype=torch.float64).")
    if mu.dim() != 2 or mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must both have shape (N, d); got mu {tuple(mu.shape)}, "
                         f"logvar {tuple(logvar.shape)}.")
    if z is not None and (z.dim() != 2 or z.shape[1] != mu.shape[1]):
        raise ValueError(f"z must have shape (M, d) with d = {mu.shape[1]} like mu; got {tuple(z.shape)}.")
    if mu.shape[0] == 0:
        raise ValueError("the mixture needs at least one component: mu and logvar are empty (N = 0).")
    limit = math.log(torch.finfo(torch.float64).max) - 10  # exp(±logvar) stays finite in float64
    with torch.no_grad():
        if not all(torch.isfinite(t).all() for _, t in named):
            raise ValueError("z, mu and logvar must be finite (found NaN or inf).")
        if float(logvar.abs().max()) > limit:
            raise ValueError(f"logvar must lie in (-{limit:.0f}, {limit:.0f}): a variance exp({float(logvar.min()):.3g}) "
                             "or its inverse is not representable in float64.")


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return value


def mixture_log_density(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log (1/C) Σ_c N(z; mu_c, diag exp(logvar_c)); z (M, d), mu/logvar (C, d) -> (M,), in z's dtype.

    One (M, 2d+1) × (2d+1, C) matrix product and a log-sum-exp, differentiable in all three inputs: the
    density of a learnable mixture prior with C components. For the aggregate posterior (C = N up to
    60,000, no gradients) use the streaming ``aggregate_log_density``.
    """
    _check_shapes(z, mu, logvar)
    a, b = _features(z, mu.to(z.dtype), logvar.to(z.dtype))
    return torch.logsumexp(a @ b.T, dim=1) - math.log(mu.shape[0])


def _stream(z: Tensor, mu: Tensor, logvar: Tensor, chunk_size: int, entropy: bool,
            matmul_dtype: torch.dtype, exclude: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """Streaming pass over blocks (rows of z) × (chunk_size components).

    Per row keeps the running max m, S = Σ_n e^{l_n - m} and U = Σ_n e^{l_n - m} (l_n - m) in float64,
    where l_n = log N(z; mu_n, sigma_n²). Then log Σ_n e^{l_n} = m + log S and
    H[q(n|z)] = log Σ e^{l} - Σ_n (e^{l_n}/Σ e^{l}) l_n = log S - U / S.
    """
    _check_shapes(z, mu, logvar)
    _positive_int("chunk_size", chunk_size)
    z, mu, logvar = z.detach().double(), mu.detach().double(), logvar.detach().double()
    if _cancellation_error(z, mu, logvar) > EXACT_TOLERANCE:  # narrow components: the expanded square cancels
        return _stream_blocks(_masked(lambda rows, c0: _exact_block(z[rows], mu, logvar, c0, chunk_size), exclude),
                              z.shape[0], mu.shape[0], chunk_size, entropy, -700.0)
    a, b = _features(z, mu, logvar)
    a, b = a.to(matmul_dtype), b.to(matmul_dtype)
    floor = -80.0 if matmul_dtype == torch.float32 else -700.0
    return _stream_blocks(_masked(lambda rows, c0: a[rows] @ b[c0:c0 + chunk_size].T, exclude), z.shape[0],
                          mu.shape[0], chunk_size, entropy, floor)


def _masked(block_of, exclude: Tensor | None):
    """``block_of`` with the component ``exclude[m]`` of each row m set to -inf (left out of the sum)."""
    if exclude is None:
        return block_of

    def masked(rows: slice, c0: int) -> Tensor:
        block = block_of(rows, c0)
        own = exclude[rows] - c0
        hit = ((own >= 0) & (own < block.shape[1])).nonzero().squeeze(1)
        block[hit, own[hit]] = -math.inf
        return block

    return masked


def _cancellation_error(z: Tensor, mu: Tensor, logvar: Tensor) -> float:
    """Rounding error (nats) of the expanded square in float64, at most eps · max_n Σ_i (|z|max_i + |mu_ni|)² / sigma_ni²
    after centring on the mean of mu (the terms z², 2 z mu and mu² of size up to that cancel)."""
    if z.numel() == 0:
        return 0.0
    shift = mu.mean(0)
    z_max = (z - shift).abs().max(0).values
    scale = ((z_max + (mu - shift).abs()).square() * torch.exp(-logvar)).sum(1)
    return float(torch.finfo(torch.float64).eps * scale.max())


def _exact_block(z: Tensor, mu: Tensor, logvar: Tensor, c0: int, chunk_size: int) -> Tensor:
    """log N(z_m; mu_n, sigma_n²) for the components c0..c0+chunk_size, (rows, cols), squared distances direct."""
    mu_c, lv_c = mu[c0:c0 + chunk_size], logvar[c0:c0 + chunk_size]
    return DiagonalGaussian(mu_c[None], lv_c[None]).log_prob(z[:, None, :])


def _stream_blocks(block_of, m_total: int, n_total: int, chunk_size: int, entropy: bool,
                   floor: float) -> tuple[Tensor, Tensor | None]:
    """The streaming log-sum-exp (and entropy) over ``block_of(rows, c0)`` blocks of log densities."""
    lse_out = torch.empty(m_total, dtype=torch.float64)
    ent_out = torch.empty(m_total, dtype=torch.float64) if entropy else None
    for r0 in range(0, m_total, ROW_CHUNK):
        rows = slice(r0, r0 + ROW_CHUNK)
        m = s = u = None
        for c0 in range(0, n_total, chunk_size):
            block = block_of(rows, c0)  # (rows, cols) log densities l_n
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
                          matmul_dtype: torch.dtype = torch.float64, exclude: Tensor | None = None) -> Tensor:
    """log q(z) = log (1/N) Σ_n N(z; mu_n, diag exp(logvar_n)); z (M, d), mu/logvar (N, d) -> (M,) float64.

    Memory is O(ROW_CHUNK · chunk_size) whatever N and M. ``matmul_dtype=torch.float32`` does the block
    matmul and exponentials in float32 (0.7–1.0× the float64 time in benchmarks/bench_marginal_kl.py; absolute
    error ~1e-5 when |z|, |mu| ≲ 10 and sigma ≳ 0.1, since the expanded square cancels in float32) while
    the sums across blocks stay float64. When the float64 rounding bound of the expanded square exceeds
    EXACT_TOLERANCE (very narrow components, e.g. logvar ≲ -25), every block is computed from the squared
    distances directly instead (slower, exact for any variance float64 can represent).
    ``exclude`` (M,) integer indices: leave component exclude[m] out for row m, the leave-one-out density
    log q₋ₙ(z) = log (1/(N-1)) Σ_{n' ≠ n} N(z; mu_n', diag exp(logvar_n')), without the cancellation of
    subtracting the own component from the full sum.
    """
    if exclude is not None:
        exclude = torch.as_tensor(exclude)
        if exclude.dtype.is_floating_point or exclude.shape != (z.shape[0],) or mu.shape[0] < 2 or (
                exclude.numel() and (exclude.min() < 0 or exclude.max() >= mu.shape[0])):
            raise ValueError(f"exclude must hold {z.shape[0]} integer indices in [0, {mu.shape[0]}), one per row "
                             "of z, and the mixture needs at least 2 components.")
    lse, _ = _stream(z, mu, logvar, chunk_size, False, matmul_dtype, exclude)
    return lse - math.log(mu.shape[0] - (exclude is not None))


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


def sample_joint(mu: Tensor, logvar: Tensor, m: int, generator: torch.Generator | None = None
                 ) -> tuple[Tensor, Tensor]:
    """M draws (n_m, z_m) from q(n, z) = q(z | x_n) / N: n ~ Uniform{0..N-1}, then z = mu_n + sigma_n ε.

    mu, logvar (N, d) -> (n (M,) int64 indices into the rows of mu, z (M, d) in mu's dtype).
    """
    _check_shapes(None, mu, logvar)
    _positive_int("the number of samples", m)
    idx = torch.randint(mu.shape[0], (m,), generator=generator)
    return idx, DiagonalGaussian(mu[idx], logvar[idx]).sample(generator=generator)


def sample_aggregate(mu: Tensor, logvar: Tensor, m: int, generator: torch.Generator | None = None) -> Tensor:
    """M draws from q(z): the z of ``sample_joint`` (same random stream); (N, d) -> (M, d), dtype of mu."""
    return sample_joint(mu, logvar, m, generator)[1]


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


def mutual_information_from_pairs(z: Tensor, n: Tensor, mu: Tensor, logvar: Tensor, chunk_size: int = 1024
                                  ) -> tuple[float, float]:
    """I(n; z) from pairs (n_m, z_m) ~ q(n, z), by the log ratio of its definition; returns (value, se).

        I(n; z) = E_q(n,z) log [q(n, z) / (q(n) q(z))] = E_q(n,z) [log q(z | x_n) - log q(z)]
                ≈ (1/M) Σ_m [log N(z_m; mu_{n_m}, diag exp(logvar_{n_m})) - log q(z_m)],

    se = s / √M with s the sample standard deviation (M - 1 in the denominator) of the M terms.
    z (M, d), n (M,) integer indices into the N rows of mu and logvar (N, d), e.g. from ``sample_joint``.
    Unbiased like ``mutual_information`` (log N - H[q(n | z)] averaged over z), which averages this
    estimator's terms over n given z (a Rao-Blackwellization) and so never has the larger variance.
    """
    _check_shapes(z, mu, logvar)
    n = torch.as_tensor(n)
    if n.dtype.is_floating_point or n.shape != (z.shape[0],) or (n.numel() and (n.min() < 0 or n.max() >= mu.shape[0])):
        raise ValueError(f"n must hold {z.shape[0]} integer indices in [0, {mu.shape[0]}), one per row of z.")
    z64, mu64, lv64 = z.detach().double(), mu.detach().double(), logvar.detach().double()
    own = DiagonalGaussian(mu64[n], lv64[n]).log_prob(z64)                       # log q(z_m | x_{n_m}), (M,)
    value, se = mean_and_se(own - aggregate_log_density(z64, mu64, lv64, chunk_size))
    return float(value), float(se)


def prior_holes(mu: Tensor, logvar: Tensor, ratio: float = 10.0, num_samples: int = 10_000,
                generator: torch.Generator | None = None, chunk_size: int = 1024,
                matmul_dtype: torch.dtype = torch.float64, prior: Any = None) -> dict[str, float]:
    """Where the prior p(z) puts mass that the aggregate posterior q(z) leaves thin, by Monte Carlo.

    With z_m ~ p(z), m = 1..M, and log q(z) = log (1/N) Σ_n N(z; mu_n, diag exp(logvar_n)) over ALL N rows of
    mu, logvar (N, d) (no subsampling of the mixture):

        hole_fraction = P_p[q(z) < p(z) / ratio] ≈ (1/M) Σ_m 1[log q(z_m) - log p(z_m) < -log ratio]
        reverse_kl    = KL(p ‖ q) = E_p[log p(z) - log q(z)] ≈ (1/M) Σ_m [log p(z_m) - log q(z_m)]
        median_log_ratio = the sample median of log q(z_m) - log p(z_m)

    each mean with its standard error s / √M (s the sample standard deviation, M - 1 in the denominator;
    for the fraction f this is √(f (1 - f) / (M - 1))). Returns a dict with these keys, the ``*_se`` of the
    two means, and ``num_samples``. ``prior`` None is N(0, I), drawn as z = ε ~ N(0, I) in float64 from
    ``generator``; otherwise an object with ``sample(M, generator)`` -> (M, d) and ``log_prob(z)`` -> (M,) (an
    ``elbo_course.priors.Prior``, e.g. a learned mixture), drawn and evaluated without gradients.
    """
    _check_shapes(None, mu, logvar)
    _positive_int("num_samples", num_samples)
    if not ratio > 1.0:
        raise ValueError(f"ratio must be > 1 (a hole is where q(z) < p(z) / ratio); got {ratio!r}.")
    with torch.no_grad():
        if prior is None:
            z = torch.randn(num_samples, mu.shape[1], generator=generator, dtype=torch.float64)
            log_p = standard_normal_log_prob(z)
        else:
            z = prior.sample(num_samples, generator)
            log_p = prior.log_prob(z).double()
        log_ratio = aggregate_log_density(z, mu, logvar, chunk_size, matmul_dtype) - log_p
    fraction, fraction_se = mean_and_se((log_ratio < -math.log(ratio)).double())
    reverse, reverse_se = mean_and_se(-log_ratio)
    return {"hole_fraction": float(fraction), "hole_fraction_se": float(fraction_se),
            "reverse_kl": float(reverse), "reverse_kl_se": float(reverse_se),
            "median_log_ratio": float(log_ratio.median()), "num_samples": int(num_samples)}


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
