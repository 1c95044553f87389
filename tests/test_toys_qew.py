"""``toys.qew``: the hyperbola toy's evidence, SIR draws from q_EW, q_EW's density and the ordering
L_K ≤ ELBO(q_EW) ≤ log p(x)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from elbo_course.toys import qew


def test_hyperbola_evidence_is_converged_in_the_grid() -> None:
    fine = qew.HyperbolaToy(lim=7.0, n=561).log_evidence()
    assert qew.DEFAULT_TOY.log_evidence() == pytest.approx(fine, abs=1e-5)


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
    out, draws = qew.qew_summary(K, np.random.default_rng(K), n_samples=500, replicates=20000, inner=1500)
    assert draws.shape == (500, 2) and out["K"] == K
    assert out["L_K"] + 3 * out["L_K_se"] < out["elbo_qew"] <= out["log_px"] + 1e-9, out
    assert out["mass"] == pytest.approx(1.0, abs=0.05)


def test_k_1_summary_is_the_elbo_of_q() -> None:
    out, _ = qew.qew_summary(1, np.random.default_rng(0), n_samples=300, replicates=100, inner=10)
    assert out["L_K"] == pytest.approx(out["elbo_qew"]) and out["L_K_se"] == 0.0
    assert out["elbo_qew"] < out["log_px"] - 1.0           # q is far from the two-lobed posterior
    assert 0.9 < out["same_sign_posterior"] <= 1.0 and abs(out["same_sign"] - 0.5) < 0.1
