"""``toys.qew``: the hyperbola toy's evidence, SIR draws from q_EW, q_EW's density and the ordering
L_K ≤ ELBO(q_EW) ≤ log p(x)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from elbo_course.toys import qew


def test_hyperbola_evidence_is_converged_in_the_grid() -> None:
    fine = qew.HyperbolaToy(lim=12.0, n=601).log_evidence()
    assert qew.DEFAULT_TOY.log_evidence() == pytest.approx(fine, abs=1e-10)


def test_quadrature_of_elbo_q_matches_its_closed_form() -> None:
    """K = 1: q_EW = q, so the grid's ELBO(q_EW) must equal the closed form; a grid cut at ±5 would not."""
    toy, q = qew.DEFAULT_TOY, qew.DEFAULT_Q
    exact = qew.elbo_closed_form(toy, q)
    assert qew.elbo_qew(toy, q, 1)["elbo"] == pytest.approx(exact, abs=1e-9)
    assert abs(qew.elbo_qew(qew.HyperbolaToy(lim=5.0, n=241), q, 1)["elbo"] - exact) > 0.01
    z = q.sample((400_000,), np.random.default_rng(11))                      # and an independent Monte Carlo
    log_w = toy.log_joint(z) - q.log_prob(z)
    assert abs(log_w.mean() - exact) < 4 * log_w.std() / math.sqrt(len(z))
    other = qew.GaussianProposal(mean=(0.5, -0.3), std=(0.8, 1.1))
    assert qew.elbo_qew(toy, other, 1)["elbo"] == pytest.approx(qew.elbo_closed_form(toy, other), abs=1e-9)


def test_qew_masses() -> None:
    """Masses of single q_IW on the 1-D Gaussian toy: all 1 for K = 1, average 1 within its error for K = 5."""
    x, noise_var, q_mean, q_var = 1.5, 2 / 3, 1.5, 0.6

    def log_w_and_joint(z):
        log_joint = -0.5 * z**2 - 0.5 * (x - z) ** 2 / noise_var - math.log(2 * math.pi) - 0.5 * math.log(noise_var)
        return log_joint + 0.5 * (z - q_mean) ** 2 / q_var + 0.5 * math.log(2 * math.pi * q_var), log_joint

    z = np.linspace(-10, 10, 2001)
    log_w, log_joint = log_w_and_joint(z)
    assert np.allclose(qew.qew_masses(log_joint, log_w, np.zeros((3, 0)), z[1] - z[0], 1), 1.0, atol=1e-10)
    inner = q_mean + math.sqrt(q_var) * np.random.default_rng(3).standard_normal((4000, 4))
    masses = qew.qew_masses(log_joint, log_w, log_w_and_joint(inner)[0], z[1] - z[0], 5)
    assert masses.shape == (4000,) and masses.max() - masses.min() > 1      # single q_IW are not normalized
    assert abs(masses.mean() - 1) < 3 * masses.std(ddof=1) / math.sqrt(len(masses))
    weights = np.full(len(z), z[1] - z[0])                                    # per-point weights give the same
    assert np.allclose(qew.qew_masses(log_joint, log_w, log_w_and_joint(inner[:10])[0], weights, 5), masses[:10])


def test_densities_match_independent_formulas() -> None:
    z = np.array([[0.3, -1.2], [2.0, 0.5]])
    toy, q = qew.DEFAULT_TOY, qew.DEFAULT_Q
    prior = -0.5 * (z**2).sum(-1) - math.log(2 * math.pi)
    lik = -0.5 * ((toy.x - z[:, 0] * z[:, 1]) / toy.noise) ** 2 - math.log(toy.noise * math.sqrt(2 * math.pi))
    assert np.allclose(toy.log_joint(z), prior + lik, rtol=0, atol=1e-12)
    std = np.asarray(q.std)
    log_q = (-0.5 * ((z - np.asarray(q.mean)) / std) ** 2 - np.log(std * math.sqrt(2 * math.pi))).sum(-1)
    assert np.allclose(q.log_prob(z), log_q, rtol=0, atol=1e-12)


def test_sir_with_k_1_is_sampling_from_q() -> None:
    draws = qew.sir_sample(qew.DEFAULT_TOY, qew.DEFAULT_Q, 1, 20000, np.random.default_rng(5))
    assert draws.shape == (20000, 2)
    assert np.allclose(draws.std(0), qew.DEFAULT_Q.std, rtol=0.03)
    assert abs(np.mean(draws[:, 0] * draws[:, 1] > 0) - 0.5) < 0.02
    with pytest.raises(ValueError, match="positive"):
        qew.sir_sample(qew.DEFAULT_TOY, qew.DEFAULT_Q, 0, 10, np.random.default_rng(0))


def test_qew_density_integrates_to_one_and_equals_q_for_k_1() -> None:
    toy, q = qew.DEFAULT_TOY, qew.DEFAULT_Q
    pts, area = toy.grid()
    assert np.allclose(qew.qew_log_density(toy, q, 1, pts[:50], 10, np.random.default_rng(0)), q.log_prob(pts[:50]))
    mass = np.exp(qew.qew_log_density(toy, q, 10, pts, 3000, np.random.default_rng(6))).sum() * area
    assert mass == pytest.approx(1.0, abs=0.05)  # one shared set of 3000 draws: a common scale error of a few %


def test_sir_draws_follow_the_qew_density() -> None:
    toy, q = qew.DEFAULT_TOY, qew.DEFAULT_Q
    draws = qew.sir_sample(toy, q, 5, 40000, np.random.default_rng(7))
    pts, area = toy.grid()
    dens = np.exp(qew.qew_log_density(toy, q, 5, pts, 2000, np.random.default_rng(8))) * area
    dens /= dens.sum()
    same_sign = float(dens[pts[:, 0] * pts[:, 1] > 0].sum())
    assert np.mean(draws[:, 0] * draws[:, 1] > 0) == pytest.approx(same_sign, abs=0.01)


@pytest.mark.parametrize("K", [2, 5, 30])
def test_iwae_bound_below_elbo_of_qew_below_evidence(K: int) -> None:
    out, draws = qew.qew_summary(K, np.random.default_rng(K), n_samples=500, replicates=20000, inner=1000)
    assert draws.shape == (500, 2) and out["K"] == K and out["elbo_qew_se"] > 0
    gap_se = math.hypot(out["L_K_se"], out["elbo_qew_se"])
    assert out["L_K"] + 3 * gap_se < out["elbo_qew"] <= out["log_px"] + 1e-9, out
    assert out["mass"] == pytest.approx(1.0, abs=0.05)


def test_k_1_summary_is_the_elbo_of_q() -> None:
    out, _ = qew.qew_summary(1, np.random.default_rng(0), n_samples=300, replicates=4000, inner=10)
    assert out["elbo_qew"] == pytest.approx(out["elbo_q"], abs=1e-9)       # quadrature against the closed form
    assert out["L_K_se"] > 0 and abs(out["L_K"] - out["elbo_q"]) < 4 * out["L_K_se"]   # and Monte Carlo
    assert out["elbo_qew"] < out["log_px"] - 1.0           # q is far from the two-lobed posterior
    assert 0.9 < out["same_sign_posterior"] <= 1.0 and abs(out["same_sign"] - 0.5) < 0.1
    fine = qew.HyperbolaToy(n=1280)                                          # the indicator needs a fine grid
    pts, _ = fine.grid()
    post = np.exp(fine.log_posterior(pts))
    assert out["same_sign_posterior"] == pytest.approx(post[pts[:, 0] * pts[:, 1] > 0].sum() / post.sum(), abs=5e-5)
