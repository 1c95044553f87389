"""Lesson 05 (ELBO surgery): the explorer callback against independent formulas and Monte Carlo, the
exercise specs (right answers pass, typical wrong ones fail), and the shape of the solution notebook,
including a grader-style run of only its setup, context, solution and grade cells."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from elbo_course import grading, rng, surgery  # noqa: E402
from elbo_course import surgery_explorer as se  # noqa: E402
from elbo_course.exercises import _05_elbo_surgery as ex  # noqa: E402
from elbo_course.toy import GaussianMixtureToy, evenly_spaced  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LESSON = "05_elbo_surgery"
F64 = torch.float64


def normal_log_pdf(x: torch.Tensor, mean: torch.Tensor, var: float) -> torch.Tensor:
    """Σ_i log N(x_i; mean_i, var), written out independently of the package."""
    return (-0.5 * math.log(2 * math.pi * var) - (x - mean) ** 2 / (2 * var)).sum(-1)


# ---- the explorer callback ---------------------------------------------------------------------------------
@pytest.mark.parametrize("prior", se.PRIORS)
@pytest.mark.parametrize("width, spacing, n, dim", [(0.5, 1.0, 8, 1), (0.1, 1.0, 5, 1), (2.0, 0.3, 12, 1),
                                                    (0.4, 1.5, 9, 2)])
def test_state_identity_bounds_and_evidence(prior, width, spacing, n, dim):
    s = se.surgery_state(width, spacing, n, prior, dim=dim)
    assert s["avg_kl"] == pytest.approx(s["mutual_info"] + s["marginal_kl"], abs=1e-8)
    assert -1e-10 <= s["mutual_info"] <= math.log(n) + 1e-10 and s["marginal_kl"] >= -1e-10
    assert s["elbo"] == pytest.approx(s["avg_recon"] - s["avg_kl"], abs=1e-8)
    assert s["elbo"] <= s["log_evidence"] + 1e-12
    if prior == "aggregate":
        assert abs(s["marginal_kl"]) < 1e-9 and s["avg_kl"] == pytest.approx(s["mutual_info"], abs=1e-9)


def test_prior_q_of_z_is_best_and_only_term_three_moves():
    states = [se.surgery_state(0.5, 1.0, 8, p) for p in se.PRIORS]
    for key in ("avg_recon", "mutual_info"):
        assert max(s[key] for s in states) - min(s[key] for s in states) < 1e-12
    elbos = [s["elbo"] for s in states]
    assert elbos[2] > elbos[1] > elbos[0]  # q(z) beats the fitted Gaussian, which beats N(0, 1)
    assert [round(s["elbo"], 4) for s in states] == [-3.6689, -2.2713, -2.1718]  # printed in the notebook


def test_reconstruction_matches_monte_carlo():
    x = torch.tensor([[-1.0, 0.5], [0.3, 2.0], [1.2, -0.7]], dtype=F64)
    mu, sigma = 0.8 * x + 0.1, torch.tensor([[0.3, 0.6], [0.2, 0.2], [1.0, 0.5]], dtype=F64)
    g = rng("test.05.recon")
    z = mu + sigma * torch.randn(200_000, 3, 2, generator=g, dtype=F64)
    values = normal_log_pdf(x, z, 0.25).mean(1)  # (1/N) Σ_n log N(x_n; z_n, 0.5² I) per draw
    mean, se_ = float(values.mean()), float(values.std() / math.sqrt(values.numel()))
    assert abs(se.average_reconstruction(x, mu, sigma, 0.5) - mean) < 4 * se_


def test_evidence_under_standard_and_mixture_priors():
    x = torch.tensor([[-2.0], [0.0], [1.5]], dtype=F64)
    means, logvar = se.prior_components("standard", x, torch.ones_like(x))
    expected = float(normal_log_pdf(x, torch.zeros_like(x), 1.25).mean())  # p(x) = N(0, 1 + tau²)
    assert se.average_log_evidence(x, means, logvar, 0.5) == pytest.approx(expected, abs=1e-12)
    mix_mu, mix_sd = torch.tensor([[-1.0], [2.0]], dtype=F64), torch.tensor([[0.5], [0.3]], dtype=F64)
    means, logvar = se.prior_components("aggregate", mix_mu, mix_sd)
    dens = 0.5 * sum(normal_log_pdf(x, m, float(s) ** 2 + 0.25).exp() for m, s in zip(mix_mu, mix_sd))
    assert se.average_log_evidence(x, means, logvar, 0.5) == pytest.approx(float(dens.log().mean()), abs=1e-12)


def test_fitted_prior_matches_moments_of_q_by_quadrature():
    t = GaussianMixtureToy(evenly_spaced(6, spacing=0.7, width=0.4).mu + 0.3, 0.4)  # off-centre mean
    m, logvar = se.prior_components("fitted", t.mu, t.sigma)
    grid = torch.linspace(-8, 8, 16001, dtype=F64)[:, None]
    w = t.log_aggregate(grid).exp() * (grid[1, 0] - grid[0, 0])
    mean = float((w * grid[:, 0]).sum())
    assert float(m) == pytest.approx(mean, abs=1e-9)
    assert float(logvar.exp()) == pytest.approx(float((w * (grid[:, 0] - mean) ** 2).sum()), abs=1e-9)


def test_state_rejects_bad_settings_and_plots():
    with pytest.raises(ValueError):
        se.surgery_state(width=0.0)
    with pytest.raises(ValueError):
        se.surgery_state(prior="uniform")
    with pytest.raises(ValueError):
        se.plot_state(se.surgery_state(0.5, 1.0, 4, dim=2))
    fig = se.plot_presets()
    assert len(fig.axes) == 2 * len(se.PRESETS)
    box = se.surgery_explorer()
    assert len(box.children) == 3


# ---- exercise specs ----------------------------------------------------------------------------------------
def test_aggregate_density_exercise():
    def components(z, mu, logvar):  # (M, N) log N(z_m; mu_n, diag exp(logvar_n))
        sq = (z[:, None, :] - mu[None]) ** 2 / logvar[None].exp()
        return (-0.5 * (math.log(2 * math.pi) + logvar[None] + sq)).sum(-1)

    def good(z, mu, logvar):
        return torch.logsumexp(components(z, mu, logvar), 1) - math.log(mu.shape[0])

    def naive(z, mu, logvar):  # exponentiates first: -inf in the far tails
        return components(z, mu, logvar).exp().mean(1).log()

    def float32(z, mu, logvar):
        return good(z, mu, logvar).float()

    exid = f"{LESSON}.aggregate_log_density"
    assert grading.evaluate(exid, good).status == grading.PASSED
    assert grading.evaluate(exid, naive).status == grading.FAILED
    assert grading.evaluate(exid, lambda z, mu, lv: good(z, mu, lv) + math.log(mu.shape[0])).status == grading.FAILED
    assert grading.evaluate(exid, float32).status == grading.FAILED


def test_mutual_info_exercise_expected_value_by_an_independent_route():
    t = evenly_spaced(**ex.MI_TOY)
    avg_kl = float((0.5 * (t.mu ** 2 + t.sigma ** 2 - 2 * t.sigma.log() - 1).sum(1)).mean())
    mkl, mkl_se = surgery.marginal_kl(t.mu, t.logvar, num_samples=40_000, generator=rng("test.05.mi"))
    mi = ex.mutual_info_expected()
    assert abs((avg_kl - mkl) - mi) < 4 * mkl_se and 0 < mi < math.log(16)
    assert grading.evaluate(f"{LESSON}.mutual_info", avg_kl - t.terms()["marginal_kl"]).status == grading.PASSED
    assert grading.evaluate(f"{LESSON}.mutual_info", avg_kl).status == grading.FAILED


def test_log_n_bound_exercise():
    slack = ex.bound_slack_expected()
    narrow = evenly_spaced(2, spacing=1.0, width=0.05).terms()["expected_entropy"]
    assert 0 < narrow < slack < math.log(2)
    t = evenly_spaced(**ex.BOUND_TOY)
    mi, se_ = surgery.mutual_information(t.mu, t.logvar, num_samples=40_000, generator=rng("test.05.slack"))
    assert abs((math.log(2) - mi) - slack) < 4 * se_
    exid = f"{LESSON}.log_n_bound"
    right = {"fact": "B", "slack": slack, "narrow_is_tighter": True}
    assert grading.evaluate(exid, right).status == grading.PASSED
    for wrong in ({**right, "fact": "d"}, {**right, "narrow_is_tighter": False}, {**right, "slack": math.log(2)}):
        assert grading.evaluate(exid, wrong).status == grading.FAILED


# ---- the notebook ------------------------------------------------------------------------------------------
def load(folder: str = "solutions") -> nbformat.NotebookNode:
    return nbformat.read(ROOT / folder / f"{LESSON}.ipynb", as_version=4)


def test_notebook_shape():
    nb = load()
    assert nb.metadata["elbo_course"]["lesson_id"] == LESSON
    assert all("slide_type" in c.metadata.get("slideshow", {}) for c in nb.cells)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "elbo_course.setup()" in code[0].source and "%pip install" in code[0].source
    assert all(len(c.source.split("\n")) <= 15 for c in code)
    grades = [c for c in code if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(grades) >= 2
    for c in grades:
        assert c.source.startswith(f'check("{LESSON}.') and "### BEGIN HIDDEN TESTS" in c.source
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for needle in ("01_jensen_and_the_elbo.ipynb", "02_three_readings_of_the_elbo.ipynb", "Hoffman",
                   "Makhzani", "VampPrior", "★★★"):
        assert needle in text
    errors = [o for c in code for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, "the stored notebook has an error output: re-execute it"


def test_exercises_grade_from_setup_and_context_cells_alone():
    """Run only what the grader runs (setup, context, solution, grade cells) in a fresh namespace."""
    nb = load()
    wanted = [c for c in nb.cells if c.cell_type == "code" and (
        {"setup", "context"} & set(c.metadata.get("tags", [])) or "nbgrader" in c.metadata)]
    namespace: dict = {}
    for cell in wanted:
        source = "\n".join("    pass" if line.strip().startswith("%pip") else line for line in cell.source.split("\n"))
        exec(compile(source, "<cell>", "exec"), namespace)  # noqa: S102 - our own notebook
    assert sum("nbgrader" in c.metadata and c.metadata["nbgrader"].get("grade") for c in wanted) == 3
