"""log-mean-exp, IWAE bound, weights, ESS, averaged ELBO and standard errors."""
from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_course.bounds import (
    averaged_elbo,
    effective_sample_size,
    iwae_bound,
    log_mean_exp,
    mean_and_se,
    normalized_weights,
)
from elbo_course.toys.linear_gaussian import LinearGaussian

SETTINGS = settings(deadline=None, derandomize=True, max_examples=30)


@SETTINGS
@given(seed=st.integers(0, 10_000), centre=st.sampled_from([-1e4, -3e3, 0.0, 5e3, 1e4]), k=st.integers(1, 50))
def test_log_mean_exp_large_magnitudes_against_analytic_shift(seed: int, centre: float, k: int) -> None:
    # x = c + o with small offsets o: log mean exp(x) = c + log mean exp(o), the right side needs no shift.
    g = torch.Generator().manual_seed(seed)
    offsets = 5.0 * torch.randn(k, 3, generator=g, dtype=torch.float64)
    exact = centre + torch.log(torch.exp(offsets).mean(0))
    got64 = log_mean_exp(centre + offsets, dim=0)
    torch.testing.assert_close(got64, exact, rtol=0, atol=1e-9)
    got32 = log_mean_exp((centre + offsets).float(), dim=0)
    assert torch.isfinite(got32).all()
    torch.testing.assert_close(got32.double(), exact, rtol=0, atol=4e-3)  # float32 spacing at 1e4 is 1e-3


def test_log_mean_exp_small_values_dims_and_keepdim() -> None:
    x = torch.randn(4, 5, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for dim in (0, 1, 2, -1):
        torch.testing.assert_close(log_mean_exp(x, dim=dim), torch.log(torch.exp(x).mean(dim)))
    assert log_mean_exp(x, dim=1, keepdim=True).shape == (4, 1, 6)


def test_log_mean_exp_handles_minus_infinity() -> None:
    ninf = -math.inf
    x = torch.tensor([[ninf, 0.0, math.log(3.0), ninf], [ninf, ninf, ninf, ninf]], dtype=torch.float64)
    got = log_mean_exp(x, dim=1)
    torch.testing.assert_close(got[0], torch.tensor(math.log(4.0 / 4.0), dtype=torch.float64))  # (1+3)/4
    assert got[1] == -math.inf and not torch.isnan(got).any()
    assert iwae_bound(torch.tensor([ninf, 1e4]), dim=0).item() == torch.tensor(1e4 - math.log(2.0)).float().item()


@SETTINGS
@given(seed=st.integers(0, 10_000), k=st.integers(1, 40), spread=st.sampled_from([0.1, 3.0, 50.0]))
def test_weights_ess_and_jensen_per_draw(seed: int, k: int, spread: float) -> None:
    log_w = spread * torch.randn(k, 7, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) - 100.0
    w = normalized_weights(log_w, dim=0)
    torch.testing.assert_close(w.sum(0), torch.ones(7, dtype=torch.float64))
    torch.testing.assert_close(normalized_weights(log_w + 1234.5, dim=0), w)  # shift invariant
    ess = effective_sample_size(log_w, dim=0)
    assert ((ess >= 1 - 1e-9) & (ess <= k + 1e-9)).all()
    torch.testing.assert_close(ess, 1.0 / (w**2).sum(0))
    # log of a mean >= mean of logs, draw by draw (Jensen); equality at K = 1.
    assert (iwae_bound(log_w) >= averaged_elbo(log_w) - 1e-9).all()
    if k == 1:
        torch.testing.assert_close(iwae_bound(log_w), log_w[0])
        torch.testing.assert_close(averaged_elbo(log_w), log_w[0])


def test_ess_extremes() -> None:
    torch.testing.assert_close(effective_sample_size(torch.zeros(10)), torch.tensor(10.0))
    one_dominant = torch.tensor([0.0, -1e4, -1e4, -1e4])
    torch.testing.assert_close(effective_sample_size(one_dominant), torch.tensor(1.0))


def test_mean_and_se_matches_numpy() -> None:
    x = torch.randn(200, 3, generator=torch.Generator().manual_seed(1))
    mean, se = mean_and_se(x, dim=0)
    a = x.double().numpy()
    np.testing.assert_allclose(mean.numpy(), a.mean(0), rtol=1e-12)
    np.testing.assert_allclose(se.numpy(), a.std(0, ddof=1) / math.sqrt(200), rtol=1e-10)
    assert mean.dtype == torch.float64
    assert torch.isnan(mean_and_se(torch.ones(1, 2))[1]).all()


def test_expected_iwae_bound_increases_with_k_and_reaches_log_evidence() -> None:
    # Mismatched q on the linear-Gaussian toy: posterior N(0.75, 0.5), q = N(0.0, 0.3).
    model, x, q_mean, q_var = LinearGaussian(), torch.tensor(1.5, dtype=torch.float64), 0.0, 0.3
    log_px = float(model.log_evidence(x))
    reps, ks = 2000, (1, 2, 4, 16, 64, 256, 1024)
    means, ses = [], []
    for k in ks:
        log_w = model.log_weights(x, q_mean, q_var, k * reps, torch.Generator().manual_seed(k)).reshape(k, reps)
        m, s = mean_and_se(iwae_bound(log_w, dim=0))
        means.append(float(m))
        ses.append(float(s))
    elbo = float(model.elbo(x, q_mean, q_var))
    assert abs(means[0] - elbo) < 4 * ses[0]  # E[L̂_1] = ELBO
    for i in range(1, len(ks)):  # E[L̂_K] non-decreasing, within Monte Carlo error
        assert means[i] - means[i - 1] > -3 * math.hypot(ses[i], ses[i - 1]), (ks[i], means)
        assert means[i] <= log_px + 3 * ses[i]
    assert means[-1] - means[0] > 20 * ses[0]  # the bound really tightened
    assert abs(means[-1] - log_px) < 1e-3 + 4 * ses[-1]  # and converged to log p(x)
    # The averaged ELBO does not tighten: its mean stays at the ELBO for every K.
    log_w = model.log_weights(x, q_mean, q_var, 64 * reps, torch.Generator().manual_seed(7)).reshape(64, reps)
    m, s = mean_and_se(averaged_elbo(log_w, dim=0))
    assert abs(float(m) - elbo) < 4 * float(s)
