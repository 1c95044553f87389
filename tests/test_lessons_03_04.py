"""Lessons 03-04 helpers: gradient estimators (``estimators``) and the implicit q_EW (``implicit``)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from elbo_course import estimators as est  # noqa: E402
from elbo_course import implicit as imp  # noqa: E402
from elbo_course.bounds import log_mean_exp  # noqa: E402
from elbo_course.grading import evaluate  # noqa: E402
from elbo_course.toy import LinearGaussian  # noqa: E402


# ---------------------------------------------------------------- estimators
@pytest.mark.parametrize("name", est.ESTIMATORS)
def test_every_estimator_is_unbiased(name: str) -> None:
    toy = est.QuadraticToy(d=5, sigma=0.7, mean=0.2, target=1.0)
    res = est.gradient_variance(toy, name, S=4, R=20000, rng=np.random.default_rng(1))
    assert res["bias"] < 4.5 * res["bias_se"], res


def test_reparameterization_variance_matches_sigma_squared_over_s() -> None:
    toy = est.QuadraticToy(d=8, sigma=0.5)
    res = est.gradient_variance(toy, "reparameterization", S=5, R=20000, rng=np.random.default_rng(2))
    assert res["variance"] == pytest.approx(est.reparam_variance_exact(toy, 5), rel=4 * np.sqrt(2 / 20000))


def test_variances_fall_as_one_over_s_and_score_function_grows_with_d() -> None:
    rng = np.random.default_rng(3)
    by_s = est.variance_table("S", [2, 32], S=10, R=3000, rng=rng)
    for name in est.ESTIMATORS:
        ratio = by_s[name][0] / by_s[name][1]
        assert 8 < ratio < 32, (name, ratio)  # 16 with S-independent per-sample variance (LOO baseline: ~31)
    by_d = est.variance_table("d", [2, 50], S=10, R=3000, rng=rng)
    assert by_d["reparameterization"][1] == pytest.approx(by_d["reparameterization"][0], rel=0.15)
    assert by_d["score_function"][1] > 20 * by_d["score_function"][0]
    assert by_d["score_function_baseline"][1] < by_d["score_function"][1] / 10
    by_sigma = est.variance_table("sigma", [0.05, 1.0], S=10, R=3000, rng=rng)
    assert by_sigma["score_function"][0] > 10 * by_sigma["score_function"][1]   # blows up as sigma -> 0
    assert by_sigma["reparameterization"][0] < by_sigma["reparameterization"][1] / 100


def test_baseline_needs_two_samples_and_names_are_checked() -> None:
    with pytest.raises(ValueError, match="S >= 2"):
        est.gradient_samples(est.QuadraticToy(), "score_function_baseline", 1, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="estimator must be"):
        est.gradient_samples(est.QuadraticToy(), "reinforce", 2, 10, np.random.default_rng(0))


def test_plot_variance_sweeps_draws_three_panels() -> None:
    rng = np.random.default_rng(4)
    tables = {p: est.variance_table(p, v, S=4, R=200, rng=rng) for p, v in
              (("S", [2, 4]), ("d", [1, 4]), ("sigma", [0.5, 1.0]))}
    fig = est.plot_variance_sweeps(tables)
    assert len(fig.axes) == 3 and all(len(ax.lines) >= 3 for ax in fig.axes)
    plt.close(fig)


# ---------------------------------------------------------------- implicit q_EW
def test_hyperbola_evidence_is_converged_in_the_grid() -> None:
    fine = imp.HyperbolaToy(lim=7.0, n=561).log_evidence()
    assert imp.DEFAULT_TOY.log_evidence() == pytest.approx(fine, abs=1e-5)


def test_sir_with_k_1_is_sampling_from_q() -> None:
    draws = imp.sir_sample(imp.DEFAULT_TOY, imp.DEFAULT_Q, 1, 20000, np.random.default_rng(5))
    assert draws.shape == (20000, 2)
    assert np.allclose(draws.std(0), imp.DEFAULT_Q.std, rtol=0.03)
    assert abs(np.mean(draws[:, 0] * draws[:, 1] > 0) - 0.5) < 0.02


def test_qew_density_integrates_to_one_and_equals_q_for_k_1() -> None:
    toy, q = imp.DEFAULT_TOY, imp.DEFAULT_Q
    pts, area = toy.grid()
    assert np.allclose(imp.qew_log_density(toy, q, 1, pts[:50], 10, np.random.default_rng(0)), q.log_prob(pts[:50]))
    mass = np.exp(imp.qew_log_density(toy, q, 10, pts, 3000, np.random.default_rng(6))).sum() * area
    assert mass == pytest.approx(1.0, abs=0.05)  # one shared set of 3000 draws: a common scale error of a few %


def test_sir_draws_follow_the_qew_density() -> None:
    toy, q = imp.DEFAULT_TOY, imp.DEFAULT_Q
    draws = imp.sir_sample(toy, q, 5, 40000, np.random.default_rng(7))
    pts, area = toy.grid()
    dens = np.exp(imp.qew_log_density(toy, q, 5, pts, 2000, np.random.default_rng(8))) * area
    dens /= dens.sum()
    same_sign = float(dens[pts[:, 0] * pts[:, 1] > 0].sum())
    assert np.mean(draws[:, 0] * draws[:, 1] > 0) == pytest.approx(same_sign, abs=0.01)


@pytest.mark.parametrize("K", [2, 5, 30])
def test_iwae_bound_below_elbo_of_qew_below_evidence(K: int) -> None:
    out = imp.qew_panel(K, n_samples=500, replicates=20000, inner=1500)
    assert out["L_K"] + 3 * out["L_K_se"] < out["elbo_qew"] <= out["log_px"] + 1e-9, out
    assert out["mass"] == pytest.approx(1.0, abs=0.05)


def test_widget_callback_draws_and_returns_numbers() -> None:
    fig, ax = plt.subplots()
    out = imp.qew_panel(1, n_samples=300, ax=ax, replicates=100, inner=10)
    assert out["K"] == 1 and out["L_K"] == pytest.approx(out["elbo_qew"]) and out["L_K_se"] == 0.0
    assert out["elbo_qew"] < out["log_px"] - 1.0           # q is far from the two-lobed posterior
    assert len(ax.collections) >= 1 and "K = 1" in ax.get_title()
    plt.close(fig)


# ---------------------------------------------------------------- Gaussian toy of lesson 04
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


# ---------------------------------------------------------------- exercise specs are wired
def test_exercise_specs_accept_the_library_and_reject_wrong_answers() -> None:
    import torch.nn.functional as F

    from elbo_course.models import active_units

    assert evaluate("04_iwae.iwae_bound", lambda lw: log_mean_exp(lw, 0)).status == "passed"
    assert evaluate("04_iwae.iwae_bound", lambda lw: torch.log(torch.exp(lw).mean(0))).status == "failed"
    assert evaluate("04_iwae.active_units", active_units).status == "passed"
    assert evaluate("04_iwae.active_units", lambda mu: int((mu.var(0) > 0.01).sum())).status == "failed"
    assert evaluate("04_iwae.finite_variance_threshold", 0.2).status == "passed"
    good = lambda l, x, mu, lv: (F.binary_cross_entropy_with_logits(l, x, reduction="none").sum(-1)  # noqa: E731
                                 + 0.5 * (mu ** 2 + lv.exp() - 1 - lv).sum(-1)).mean()
    assert evaluate("03_the_vae.negative_elbo", good).status == "passed"
    assert evaluate("03_the_vae.negative_elbo", lambda *a: good(*a) * 2).status == "failed"
    assert evaluate("03_the_vae.reparameterized_sample", lambda m, lv, e: m + torch.exp(0.5 * lv) * e).status == "passed"
    assert evaluate("03_the_vae.reparameterized_sample", lambda m, lv, e: m + lv * e).status == "failed"
