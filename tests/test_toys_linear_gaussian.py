"""``toys.linear_gaussian``: closed forms against independent computations (Bayes' rule, quadrature, Monte
Carlo, plain ``math``), the lesson-01 explorer state, the Jensen-gap estimate and the data-set ELBO."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_course.bounds import log_mean_exp
from elbo_course.toys.linear_gaussian import LinearGaussian, elbo_explorer_state, jensen_gap_mc, mc_elbo_dataset
from closed_forms import elbo, kl_to_posterior, log_evidence

SETTINGS = settings(deadline=None, derandomize=True, max_examples=40)
f64 = dict(dtype=torch.float64)
models = st.builds(LinearGaussian, st.floats(0.2, 5.0), st.floats(0.1, 5.0), st.floats(-3.0, 3.0))


def _quad(f, lo: float = -40.0, hi: float = 40.0, n: int = 400_001) -> torch.Tensor:
    z = torch.linspace(lo, hi, n, **f64)
    return f(z).sum() * (z[1] - z[0])


# ---- the model -------------------------------------------------------------------------------------------
@SETTINGS
@given(model=models, x=st.floats(-4, 4), m=st.floats(-3, 3), v=st.floats(0.01, 4.0))
def test_elbo_readings_agree_and_equal_evidence_minus_posterior_kl(model: LinearGaussian, x: float, m: float, v: float) -> None:
    r = model.readings(x, m, v)
    target = model.log_evidence(x) - model.kl_to_posterior(x, m, v)
    for value in r.values():
        assert abs(float(value - target)) < 1e-6
    assert abs(float(model.elbo(x, m, v) - target)) < 1e-6
    assert float(model.elbo(x, m, v)) <= float(model.log_evidence(x)) + 1e-12
    pm, pv = model.posterior(x)
    assert abs(float(model.elbo(x, pm, pv) - model.log_evidence(x))) < 1e-9  # the true posterior is tight
    assert abs(float(model.kl_to_posterior(x, pm, pv))) < 1e-12


@SETTINGS
@given(model=models, x=st.floats(-4, 4), z=st.floats(-5, 5))
def test_bayes_rule_gives_the_closed_form_posterior(model: LinearGaussian, x: float, z: float) -> None:
    pm, pv = model.posterior(x)
    log_post = -0.5 * (math.log(2 * math.pi * pv) + (z - pm) ** 2 / pv)
    assert abs(float(model.log_joint(x, z) - model.log_evidence(x) - log_post)) < 1e-9


def test_closed_forms_against_quadrature() -> None:
    model, x, m, v = LinearGaussian(2.0, 0.5, weight=1.7), 1.3, -0.4, 0.7
    evidence = _quad(lambda z: model.log_joint(x, z).exp())
    assert abs(float(evidence.log() - model.log_evidence(x))) < 1e-9
    log_q = lambda z: -0.5 * (math.log(2 * math.pi * v) + (z - m) ** 2 / v)  # noqa: E731
    q = lambda z: log_q(z).exp()  # noqa: E731
    assert abs(float(_quad(lambda z: q(z) * model.log_likelihood(x, z)) - model.expected_log_likelihood(x, m, v))) < 1e-9
    assert abs(float(_quad(lambda z: q(z) * model.log_joint(x, z)) - model.expected_log_joint(x, m, v))) < 1e-9
    kl_prior = _quad(lambda z: q(z) * (log_q(z) - model.log_prior(z)))
    assert abs(float(kl_prior - model.kl_to_prior(m, v))) < 1e-9
    assert abs(float(-_quad(lambda z: q(z) * log_q(z)) - model.entropy(v))) < 1e-9


def test_densities_keep_the_broadcast_shape() -> None:
    model = LinearGaussian(1.0, 0.5, weight=2.0)
    x, z = torch.zeros(3, **f64), torch.zeros(4, 1, **f64)
    assert model.log_joint(x, z).shape == (4, 3) and model.log_evidence(1.0).shape == ()
    assert model.kl_to_posterior(x, 0.0, 1.0).shape == (3,) and LinearGaussian.entropy(torch.ones(2, 5)).shape == (2, 5)


def test_log_weights_average_to_the_elbo_and_are_constant_at_the_posterior() -> None:
    model, x = LinearGaussian(1.0, 1.0), torch.tensor([0.5, -2.0], **f64)
    log_w = model.log_weights(x, 0.3, 0.2, 20_000, torch.Generator().manual_seed(0))
    assert log_w.shape == (20_000, 2)
    mean, se = log_w.mean(0), log_w.std(0) / math.sqrt(20_000)
    assert ((mean - model.elbo(x, 0.3, 0.2)).abs() < 4 * se).all()
    pm, pv = model.posterior(x)
    exact = model.log_weights(x, pm, pv, 50, torch.Generator().manual_seed(1))
    torch.testing.assert_close(exact, model.log_evidence(x).expand(50, 2), rtol=0, atol=1e-12)


def test_multi_observation_average_over_data() -> None:
    model = LinearGaussian(1.0, 0.5, weight=2.0)
    x = model.sample_data(5000, torch.Generator().manual_seed(0))
    assert abs(float(x.var()) - (4.0 + 0.5)) < 0.3 and abs(float(x.mean())) < 0.1
    m, v = 0.8 * model.posterior(x)[0], torch.full_like(x, 0.3)  # one (mismatched) q per data point
    avg = model.average_readings(x, m, v)
    per_point = model.expected_log_likelihood(x, m, v) - model.kl_to_prior(m, v)
    for value in avg.values():
        assert value.shape == () and abs(float(value - per_point.mean())) < 1e-9
    gap = float(model.log_evidence(x).mean() - avg["recon_minus_kl"])
    assert gap > 0 and abs(gap - float(model.kl_to_posterior(x, m, v).mean())) < 1e-9


def test_linear_gaussian_rejects_bad_variances() -> None:
    with pytest.raises(ValueError, match="positive"):
        LinearGaussian(prior_var=0.0)


def test_iwae_means_rise_towards_log_evidence_on_the_linear_gaussian() -> None:
    toy = LinearGaussian(prior_var=1.0, noise_var=0.5)
    x = torch.full((2000,), 1.5, dtype=torch.float64)       # 2000 replicates of the same observation
    m, v = toy.posterior(x)
    gen = torch.Generator().manual_seed(9)
    means = []
    for k in (1, 10, 100):
        lk = log_mean_exp(toy.log_weights(x, m + 0.5, 2.0 * v, k, gen), dim=0)   # (k, 2000) -> (2000,)
        means.append(float(lk.mean()))
    exact = float(toy.log_evidence(x[0]))
    assert means[0] < means[1] < means[2] <= exact + 1e-3


# ---- lesson helpers --------------------------------------------------------------------------------------
@pytest.mark.parametrize("x", [-2.0, 0.0, 1.0, 3.3])
@pytest.mark.parametrize("m, s", [(-1.0, 1.5), (0.2, 0.9), (2.0, 0.1), (0.0, 2.4)])
def test_explorer_state_matches_independent_formulas(x, m, s):
    state = elbo_explorer_state(m, s, x)
    assert state["log_evidence"] == pytest.approx(log_evidence(x), abs=1e-12)
    assert state["elbo"] == pytest.approx(elbo(x, m, s), abs=1e-12)
    assert state["kl"] == pytest.approx(kl_to_posterior(x, m, s), abs=1e-12)
    assert abs(state["gap"] - state["kl"]) < 1e-9 and state["gap"] > 0
    assert (state["posterior_mean"], state["posterior_std"]) == pytest.approx((x / 2, math.sqrt(0.5)))


def test_explorer_state_rejects_a_non_positive_std():
    with pytest.raises(ValueError, match="positive"):
        elbo_explorer_state(0.0, 0.0)


def test_jensen_gap_mc_on_an_exact_sample():
    w = torch.tensor([0.5] * 6 + [4.0] * 4, dtype=torch.float64)  # empirical law = the two-point law
    gap, se = jensen_gap_mc(w)
    assert gap == pytest.approx(math.log(1.9) - 0.6 * math.log(0.5) - 0.4 * math.log(4.0), abs=1e-12)
    assert se > 0
    assert jensen_gap_mc(torch.full((5,), 3.0)) == pytest.approx((0.0, 0.0), abs=1e-12)
    with pytest.raises(ValueError, match="positive"):
        jensen_gap_mc(torch.tensor([1.0, -1.0]))


def test_mc_elbo_dataset_unbiased_and_zero_variance_at_exact_encoder():
    toy, data = LinearGaussian(), torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)
    exact = sum(elbo(float(x), 0.3 * float(x) + 0.2, 0.9) for x in data) / 3
    est = mc_elbo_dataset(toy, data, (0.3, 0.2, 0.9), 20_000, torch.Generator().manual_seed(3))
    for mean, se in est.values():
        assert abs(mean - exact) < 5 * se and 0 < se < 0.05
    same = torch.full((4,), 1.2, dtype=torch.float64)
    est = mc_elbo_dataset(toy, same, (0.5, 0.0, math.sqrt(0.5)), 500, torch.Generator().manual_seed(4))
    assert est["full_mc"][1] < 1e-12 and est["full_mc"][0] == pytest.approx(log_evidence(1.2), abs=1e-12)
