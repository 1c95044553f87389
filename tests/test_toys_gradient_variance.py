"""``toys.gradient_variance``: the estimators are unbiased (tested as the lesson tests them), their variances
scale as stated, the standard errors are honest, and the toy ELBO's two gradient estimators match their
closed forms."""
from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from elbo_course.toys import gradient_variance as est


def test_unbiasedness_test_passes_at_its_stated_level_and_counts_its_tests() -> None:
    toy = est.QuadraticToy(d=5, sigma=0.7, mean=0.2, target=1.0)
    res = est.unbiasedness_test(toy, S=4, R=20_000, rng=np.random.default_rng(1), alpha=0.01)
    assert res["n_tests"] == 3 * 5 + 1
    assert res["threshold"] == pytest.approx(NormalDist().inv_cdf(1 - 0.01 / (2 * 16)))
    assert res["passed"], res
    assert set(res["rows"]) == set(est.ESTIMATORS)
    for row in res["rows"].values():
        assert row["z"].shape == (5,) and row["max_abs_z"] == pytest.approx(np.abs(row["z"]).max())


def test_unbiasedness_test_catches_a_biased_estimator(monkeypatch) -> None:
    toy = est.QuadraticToy(d=5)
    real = est.gradient_samples
    monkeypatch.setattr(est, "gradient_samples", lambda *args: real(*args) + 0.05)  # a bias of 5% of g
    res = est.unbiasedness_test(toy, S=10, R=20_000, rng=np.random.default_rng(2))
    assert not res["passed"] and res["rows"]["reparameterization"]["max_abs_z"] > 10


def test_bonferroni_threshold_and_detectable_bias() -> None:
    assert est.bonferroni_threshold(1, 0.05) == pytest.approx(1.959964, abs=1e-6)
    assert est.bonferroni_threshold(31, 0.01) == pytest.approx(3.5965, abs=1e-3)
    assert est.detectable_bias(1.0, 1.959964, power=0.5) == pytest.approx(1.959964)
    with pytest.raises(ValueError):
        est.bonferroni_threshold(0)


def test_z_scores_are_standard_normal_for_unbiased_estimators() -> None:
    # the lesson's test is only as good as its z-scores: over many independent runs they are N(0, 1),
    # the score function's heavy tails included
    toy = est.QuadraticToy(d=10)
    rng = np.random.default_rng(3)
    z = np.concatenate([est.gradient_variance(toy, "score_function", 10, 5_000, rng)["z"] for _ in range(30)])
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and abs(z.std() - 1) < 0.1


def test_variance_standard_error_matches_the_spread_of_repeated_estimates() -> None:
    toy = est.QuadraticToy(d=10)
    rng = np.random.default_rng(4)
    runs = [est.gradient_variance(toy, "score_function", 10, 2_000, rng) for _ in range(40)]
    spread = np.std([r["variance"] for r in runs], ddof=1)
    stated = np.mean([r["variance_se"] for r in runs])
    assert 0.7 < stated / spread < 1.4, (stated, spread)


def test_closed_forms_of_the_toy() -> None:
    toy = est.QuadraticToy(d=3, sigma=0.5, mean=0.2, target=1.0)
    z = np.random.default_rng(0).normal(0.2, 0.5, size=(400_000, 3))
    assert toy.f(z).mean() == pytest.approx(toy.expected_f(), abs=5 * toy.f(z).std() / np.sqrt(len(z)))
    assert np.allclose(toy.exact_gradient(), [0.8, 0.8, 0.8])


def test_reparameterization_variance_matches_sigma_squared_over_s() -> None:
    toy = est.QuadraticToy(d=8, sigma=0.5)
    res = est.gradient_variance(toy, "reparameterization", S=5, R=20000, rng=np.random.default_rng(2))
    exact = est.reparam_variance_exact(toy, 5)
    assert abs(res["variance"] - exact) < 4 * res["variance_se"]
    assert res["variance_se"] == pytest.approx(exact * np.sqrt(2 / 20000 / 8), rel=0.1)  # 8 independent coordinates


def test_variances_scale_as_the_lesson_says() -> None:
    rng = np.random.default_rng(3)
    by_s = est.variance_table("S", [2, 32], S=10, R=3000, rng=rng)
    for name in est.ESTIMATORS:
        ratio = by_s[name][0] / by_s[name][1]
        assert 8 < ratio < 32, (name, ratio)  # 16 with S-independent per-sample variance (LOO baseline: ~31)
    by_d = est.variance_table("d", [25, 100], S=10, R=3000, rng=rng)
    growth = {name: by_d[name][1] / by_d[name][0] for name in est.ESTIMATORS}   # d grows fourfold
    assert growth["reparameterization"] == pytest.approx(1.0, rel=0.15)
    assert 2.5 < growth["score_function_baseline"] < 6 < 10 < growth["score_function"] < 20
    by_sigma = est.variance_table("sigma", [0.01, 0.1, 1.0], S=10, R=3000, rng=rng)
    assert by_sigma["score_function"][0] > 50 * by_sigma["score_function"][1]   # like 1 / sigma^2
    assert by_sigma["reparameterization"][0] == pytest.approx(1e-4 * by_sigma["reparameterization"][2], rel=0.15)
    assert by_sigma["score_function_baseline"][0] == pytest.approx(by_sigma["score_function_baseline"][1], rel=0.2)


def test_baseline_needs_two_samples_and_names_are_checked() -> None:
    with pytest.raises(ValueError, match="S >= 2"):
        est.gradient_samples(est.QuadraticToy(), "score_function_baseline", 1, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="estimator must be"):
        est.gradient_samples(est.QuadraticToy(), "reinforce", 2, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="parameter must be"):
        est.variance_table("K", [1, 2], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="kl must be"):
        est.elbo_gradient_samples(est.flat_loglik_grad(), np.zeros(2), np.zeros(2), np.zeros((1, 1, 2)), "mc")


# ---------------------------------------------------------------- the toy ELBO of exercise 3.3

MU, LOG_SIGMA, A, PRECISION = np.array([0.0, 0.5, -1.0]), np.log([0.8, 1.1, 0.6]), np.array([1.0, -1.0, 2.0]), 0.7


def test_exact_elbo_gradient_matches_the_closed_forms() -> None:
    sigma = np.exp(LOG_SIGMA)
    quadratic = est.exact_elbo_gradient(est.quadratic_loglik_grad(A, PRECISION), MU, LOG_SIGMA)
    assert np.allclose(quadratic, [PRECISION * (A - MU) - MU, -PRECISION * sigma**2 + 1 - sigma**2], atol=1e-12)
    flat = est.exact_elbo_gradient(est.flat_loglik_grad(), MU, LOG_SIGMA)
    assert np.allclose(flat, [-MU, 1 - sigma**2], atol=1e-12)


def test_both_elbo_estimators_are_unbiased_with_the_stated_variances() -> None:
    sigma, S = np.exp(LOG_SIGMA), 5
    runs = est.compare_elbo_estimators(est.quadratic_loglik_grad(A, PRECISION), MU, LOG_SIGMA, S=S, R=40_000,
                                       rng=np.random.default_rng(5))
    threshold = est.bonferroni_threshold(12, 0.01)
    lam, dev = PRECISION, A - MU
    exact_var = {"closed_form": [lam**2 * sigma**2, lam**2 * (dev**2 * sigma**2 + 2 * sigma**4)],
                 "sampled": [(lam + 1)**2 * sigma**2,
                             (lam * dev - MU)**2 * sigma**2 + 2 * (lam + 1)**2 * sigma**4]}
    for mode, res in runs.items():
        assert np.abs(res["z"]).max() < threshold, (mode, res["z"])
        assert np.allclose(res["var_entries"], np.array(exact_var[mode]) / S, rtol=0.05), mode


def test_elbo_gradient_samples_shapes() -> None:
    eps = np.random.default_rng(6).standard_normal((7, 4, 3))
    for mode in est.KL_MODES:
        assert est.elbo_gradient_samples(est.flat_loglik_grad(), MU, LOG_SIGMA, eps, mode).shape == (7, 2, 3)
    closed = est.elbo_gradient_samples(est.flat_loglik_grad(), MU, LOG_SIGMA, eps, "closed_form")
    assert np.allclose(closed, est.exact_elbo_gradient(est.flat_loglik_grad(), MU, LOG_SIGMA))  # no noise at all
