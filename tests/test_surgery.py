"""ELBO surgery: chunked aggregate density against a direct computation; Monte Carlo terms against quadrature."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import elbo_course.surgery as surgery
from elbo_course.distributions import DiagonalGaussian
from elbo_course.surgery import (
    aggregate_log_density,
    aggregate_log_density_and_entropy,
    decompose,
    expected_posterior_entropy,
    index_log_posterior,
    marginal_kl,
    mutual_information,
    sample_aggregate,
)
from elbo_course.toys.gaussian_mixture import GaussianMixtureToy, evenly_spaced

SETTINGS = settings(deadline=None, derandomize=True, max_examples=25)


def _direct(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Full (M, N, d) float64 computation: log q(z) and H[q(n|z)]."""
    z, mu, lv = z.double()[:, None, :], mu.double()[None], logvar.double()[None]
    comp = (-0.5 * (math.log(2 * math.pi) + lv + (z - mu) ** 2 / lv.exp())).sum(-1)  # (M, N)
    log_post = comp - torch.logsumexp(comp, 1, keepdim=True)
    return torch.logsumexp(comp, 1) - math.log(comp.shape[1]), -(log_post.exp() * log_post).sum(1)


def _inputs(seed: int, n: int, m: int, d: int, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    mu = 2.0 * torch.randn(n, d, generator=g, dtype=dtype)
    logvar = torch.randn(n, d, generator=g, dtype=dtype) - 1.0
    z = 3.0 * torch.randn(m, d, generator=g, dtype=dtype)
    return z, mu, logvar


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(1, 70), m=st.integers(1, 9), d=st.integers(1, 6),
       chunk=st.integers(1, 80), rows=st.integers(1, 10))
def test_chunked_density_and_entropy_equal_direct_computation(seed, n, m, d, chunk, rows) -> None:
    z, mu, logvar = _inputs(seed, n, m, d)
    ref_lq, ref_h = _direct(z, mu, logvar)
    old = surgery.ROW_CHUNK
    surgery.ROW_CHUNK = rows  # exercise row-chunk boundaries too
    try:
        lq, h = aggregate_log_density_and_entropy(z, mu, logvar, chunk_size=chunk)
        lq_only = aggregate_log_density(z, mu, logvar, chunk_size=chunk)
        lq32, h32 = aggregate_log_density_and_entropy(z.float(), mu.float(), logvar.float(), chunk_size=chunk,
                                                      matmul_dtype=torch.float32)
    finally:
        surgery.ROW_CHUNK = old
    assert lq.dtype == torch.float64 and lq.shape == (m,)
    torch.testing.assert_close(lq, ref_lq, rtol=1e-11, atol=1e-10)
    torch.testing.assert_close(lq_only, ref_lq, rtol=1e-11, atol=1e-10)
    torch.testing.assert_close(h, ref_h, rtol=0, atol=1e-9)
    assert ((h >= 0) & (h <= math.log(n) + 1e-9)).all()
    # float32 matmul, float64 accumulation: close to the float64 answer (inputs rounded to float32 too)
    ref32_lq, ref32_h = _direct(z.float(), mu.float(), logvar.float())
    torch.testing.assert_close(lq32, ref32_lq, rtol=0, atol=2e-4)
    torch.testing.assert_close(h32, ref32_h, rtol=0, atol=2e-4)


def test_larger_problem_across_many_blocks() -> None:
    z, mu, logvar = _inputs(0, 3000, 300, 20, dtype=torch.float32)
    ref_lq, ref_h = _direct(z, mu, logvar)
    lq, h = aggregate_log_density_and_entropy(z, mu, logvar, chunk_size=1000)
    torch.testing.assert_close(lq, ref_lq, rtol=0, atol=1e-9)
    torch.testing.assert_close(h, ref_h, rtol=0, atol=1e-9)
    lq32 = aggregate_log_density(z, mu, logvar, matmul_dtype=torch.float32)
    torch.testing.assert_close(lq32, ref_lq, rtol=0, atol=1e-3)


def test_index_posterior_and_sampling() -> None:
    z, mu, logvar = _inputs(1, 12, 5, 3)
    lp = index_log_posterior(z, mu, logvar)
    torch.testing.assert_close(lp.exp().sum(1), torch.ones(5, dtype=torch.float64))
    torch.testing.assert_close(-(lp.exp() * lp).sum(1), _direct(z, mu, logvar)[1])
    s1 = sample_aggregate(mu, logvar, 20_000, torch.Generator().manual_seed(0))
    assert s1.shape == (20_000, 3) and torch.equal(s1, sample_aggregate(mu, logvar, 20_000, torch.Generator().manual_seed(0)))
    # mixture mean and variance: E z = mean_n mu_n, Var z = mean_n (sigma_n² + mu_n²) - (E z)²
    mean = mu.mean(0)
    var = (logvar.exp() + mu**2).mean(0) - mean**2
    assert ((s1.mean(0) - mean).abs() < 4 * (var / 20_000).sqrt()).all()


def _within(value: float, se: float, exact: float, k: float = 3.0) -> bool:
    return abs(value - exact) <= k * se + 1e-12


@pytest.mark.parametrize("toy", [evenly_spaced(5, 1.0, 0.5, d=1), evenly_spaced(9, 1.2, 0.45, d=2),
                                 evenly_spaced(40, 0.4, 0.3, d=1)], ids=["1d", "2d", "1d-40"])
def test_decompose_matches_quadrature_within_three_standard_errors(toy: GaussianMixtureToy) -> None:
    exact = toy.terms()
    out = decompose(toy.mu, toy.logvar, avg_recon=-1.25, num_samples=20_000, generator=torch.Generator().manual_seed(3))
    assert abs(out["avg_kl"] - exact["avg_kl"]) < 1e-12 and out["avg_kl_se"] == 0.0
    assert _within(out["mutual_info"], out["mutual_info_se"], exact["mutual_info"])
    assert _within(out["marginal_kl"], out["marginal_kl_se"], exact["marginal_kl"])
    assert _within(out["identity_residual"], out["identity_residual_se"], 0.0)
    assert 0 < out["identity_residual_se"] < 0.02 * (1.0 + exact["avg_kl"])  # tight enough to mean something
    assert out["elbo"] == pytest.approx(-1.25 - exact["avg_kl"]) and out["log_n"] == pytest.approx(math.log(toy.n))


def test_decompose_with_a_callable_prior() -> None:
    wide = DiagonalGaussian(torch.zeros(1, dtype=torch.float64), torch.full((1,), math.log(2.5), dtype=torch.float64))
    toy = evenly_spaced(6, 1.5, 0.5, d=1, log_prior=wide.log_prob)
    exact = toy.terms()
    out = decompose(toy.mu.float(), toy.logvar.float(), 0.0, log_prior=wide.log_prob, num_samples=20_000,
                    generator=torch.Generator().manual_seed(5))
    assert out["avg_kl_se"] > 0 and _within(out["avg_kl"], out["avg_kl_se"], exact["avg_kl"])
    assert _within(out["marginal_kl"], out["marginal_kl_se"], exact["marginal_kl"])
    assert _within(out["identity_residual"], out["identity_residual_se"], 0.0)


def test_marginal_kl_is_zero_when_the_prior_is_the_aggregate() -> None:
    z, mu, logvar = _inputs(2, 30, 1, 3)
    value, se = marginal_kl(mu, logvar, log_prior=lambda s: aggregate_log_density(s, mu, logvar), num_samples=500,
                            generator=torch.Generator().manual_seed(0))
    assert abs(value) < 1e-10 and se < 1e-10


def test_mutual_information_at_both_ends() -> None:
    g = torch.Generator().manual_seed(0)
    same_mu, same_lv = torch.zeros(50, 4).add(0.3), torch.full((50, 4), -0.5)
    mi, se = mutual_information(same_mu, same_lv, 2000, g)
    assert abs(mi) < 1e-9 and se < 1e-9  # identical encoders: z says nothing about n
    h, _ = expected_posterior_entropy(same_mu, same_lv, 2000, g)
    assert abs(h - math.log(50)) < 1e-9
    far_mu, tight_lv = 10.0 * torch.randn(50, 4, generator=g), torch.full((50, 4), 2 * math.log(0.01))
    mi, se = mutual_information(far_mu, tight_lv, 2000, g)
    assert abs(mi - math.log(50)) < 1e-6  # separated, narrow encoders: z identifies n


def test_float32_matmul_agrees_with_float64() -> None:
    z, mu, logvar = _inputs(4, 2000, 1, 10, dtype=torch.float32)
    kw = dict(num_samples=3000)
    a = decompose(mu, logvar, 0.0, generator=torch.Generator().manual_seed(9), **kw)
    b = decompose(mu, logvar, 0.0, generator=torch.Generator().manual_seed(9), matmul_dtype=torch.float32, **kw)
    for key in ("mutual_info", "marginal_kl", "identity_residual"):
        assert abs(a[key] - b[key]) < 1e-4, key


def test_bad_shapes_give_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"z must have shape \(M, d\) with d = 3"):
        aggregate_log_density(torch.zeros(3, 2), torch.zeros(4, 3), torch.zeros(4, 3))


def test_sample_joint_is_the_stream_of_sample_aggregate() -> None:
    _, mu, logvar = _inputs(6, 7, 1, 2)
    n, z = surgery.sample_joint(mu, logvar, 500, torch.Generator().manual_seed(1))
    assert n.shape == (500,) and n.dtype == torch.int64 and z.shape == (500, 2)
    assert torch.equal(z, sample_aggregate(mu, logvar, 500, torch.Generator().manual_seed(1)))
    # each z_m comes from its own component: standardized residuals are N(0, 1)
    resid = (z - mu[n]) / (0.5 * logvar[n]).exp()
    assert abs(float(resid.mean())) < 0.15 and abs(float(resid.std()) - 1.0) < 0.1


@pytest.mark.parametrize("toy", [evenly_spaced(8, 1.0, 0.5, d=1), evenly_spaced(9, 1.5, 0.4, d=2, points=241)],
                         ids=["1d", "2d"])
def test_mutual_information_from_pairs_matches_quadrature_and_the_entropy_estimator(toy) -> None:
    exact = toy.terms()["mutual_info"]
    n, z = surgery.sample_joint(toy.mu, toy.logvar, 20_000, torch.Generator().manual_seed(2))
    value, se = surgery.mutual_information_from_pairs(z, n, toy.mu, toy.logvar)
    assert _within(value, se, exact) and 0 < se < 0.05
    # the same pairs term by term, against a direct (M, N) computation
    lq, _ = _direct(z, toy.mu, toy.logvar)
    own = DiagonalGaussian(toy.mu[n], toy.logvar[n]).log_prob(z)
    assert value == pytest.approx(float((own - lq).mean()), abs=1e-12)
    assert se == pytest.approx(float((own - lq).std() / math.sqrt(20_000)), rel=1e-10)
    _, se_h = mutual_information(toy.mu, toy.logvar, 20_000, torch.Generator().manual_seed(3))
    assert se_h < se  # averaging over n given z (Rao-Blackwell) lowers the variance


def test_mutual_information_from_pairs_far_tails_and_bad_indices() -> None:
    mu = torch.tensor([[-1.0], [0.0], [1.0]], dtype=torch.float64)
    logvar = torch.full((3, 1), 2.0 * math.log(0.02), dtype=torch.float64)
    z = torch.tensor([[40.0], [-35.0]], dtype=torch.float64)
    value, se = surgery.mutual_information_from_pairs(z, torch.tensor([2, 0]), mu, logvar)
    assert math.isfinite(value) and math.isfinite(se)
    assert value == pytest.approx(math.log(3), abs=1e-9)  # far out, the nearest component takes all of q(z)
    with pytest.raises(ValueError, match="integer indices"):
        surgery.mutual_information_from_pairs(z, torch.tensor([0, 3]), mu, logvar)
    with pytest.raises(ValueError, match="integer indices"):
        surgery.mutual_information_from_pairs(z, torch.tensor([0.0, 1.0]), mu, logvar)


def test_prior_holes_against_closed_forms() -> None:
    # q = p: no holes, KL(p || q) = 0 exactly
    out = surgery.prior_holes(torch.zeros(1, 3), torch.zeros(1, 3), num_samples=300,
                              generator=torch.Generator().manual_seed(0))
    assert out["hole_fraction"] == 0.0 and abs(out["reverse_kl"]) < 1e-12 and out["num_samples"] == 300
    # q = N(0, s² I) in d = 2: log q/p = -2 log s - |z|² (1/s² - 1)/2, and |z|² ~ chi²_2 has P[|z|² > t] = exp(-t/2)
    s, d, ratio, m = 0.5, 2, 10.0, 40_000
    out = surgery.prior_holes(torch.zeros(1, d), torch.full((1, d), 2 * math.log(s)), ratio=ratio, num_samples=m,
                              generator=torch.Generator().manual_seed(1))
    threshold = 2 * (math.log(ratio) - d * math.log(s)) / (1 / s**2 - 1)
    exact_fraction = math.exp(-threshold / 2)
    exact_kl = d * (math.log(s) + 1 / (2 * s**2) - 0.5)   # KL(N(0, I) || N(0, s² I))
    assert _within(out["hole_fraction"], out["hole_fraction_se"], exact_fraction, k=4)
    assert _within(out["reverse_kl"], out["reverse_kl_se"], exact_kl, k=4)
    f = out["hole_fraction"]
    assert out["hole_fraction_se"] == pytest.approx(math.sqrt(f * (1 - f) / (m - 1)), rel=1e-9)
    assert out["median_log_ratio"] == pytest.approx(-d * math.log(s) - 2 * math.log(2) * (1 / s**2 - 1) / 2, abs=0.03)
    with pytest.raises(ValueError, match="ratio"):
        surgery.prior_holes(torch.zeros(1, 2), torch.zeros(1, 2), ratio=0.5)


@pytest.mark.parametrize("shift", [0.0, -30.0])   # -30: narrow components, the exact-block path
def test_leave_one_out_density_against_a_direct_sum(shift: float) -> None:
    """exclude=n leaves component n out of row n's sum and divides by N - 1; a row whose own component holds
    all but 1e-20 of the mass (where subtracting it from the full sum would cancel) stays exact."""
    g = torch.Generator().manual_seed(3)
    mu = 3 * torch.randn(300, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(300, 3, generator=g, dtype=torch.float64) - 4 + shift
    z = mu[:50] + 0.01 * torch.randn(50, 3, generator=g, dtype=torch.float64)
    own = torch.arange(50)
    comp = DiagonalGaussian(mu[None], logvar[None]).log_prob(z[:, None, :])
    comp[own, own] = -math.inf
    expected = torch.logsumexp(comp, 1) - math.log(299)
    got = surgery.aggregate_log_density(z, mu, logvar, chunk_size=64, exclude=own)
    assert torch.allclose(got, expected, rtol=0, atol=1e-9)
    full = surgery.aggregate_log_density(z, mu, logvar, chunk_size=64)
    assert bool((full > got).all())
    with pytest.raises(ValueError, match="exclude must hold"):
        surgery.aggregate_log_density(z, mu, logvar, exclude=torch.arange(49))
    with pytest.raises(ValueError, match="exclude must hold"):
        surgery.aggregate_log_density(z, mu, logvar, exclude=torch.full((50,), 300))


def test_prior_holes_with_a_given_prior_equal_to_the_aggregate_posterior() -> None:
    """prior= draws from and evaluates the given prior: when it is q(z) itself there are no holes, KL(p ‖ q) = 0."""
    from elbo_course.priors import MixtureOfGaussians

    g = torch.Generator().manual_seed(4)
    mu, logvar = torch.randn(40, 2, generator=g, dtype=torch.float64), torch.randn(40, 2, generator=g, dtype=torch.float64) - 1
    out = surgery.prior_holes(mu, logvar, num_samples=500, generator=g,
                              prior=MixtureOfGaussians.from_components(mu, logvar))
    assert out["hole_fraction"] == 0.0 and abs(out["reverse_kl"]) < 1e-9 and out["num_samples"] == 500
