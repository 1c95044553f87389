"""Lessons 01–05: exercise specs (right answers pass, typical wrong ones fail with a useful message), the
numbers the solution notebooks print, recomputed from independent formulas (plain ``math``), and the shape
of the notebooks, including a grader-style run of only lesson 05's setup, context, solution and grade cells.

The toys and figures these lessons use are tested in ``test_toys_*.py`` and ``test_figures_lesson*.py``."""
from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from elbo_course import grading, rng, surgery  # noqa: E402
from elbo_course.bounds import log_mean_exp  # noqa: E402
from elbo_course.grading import evaluate  # noqa: E402
from elbo_course.grading.specs import lesson05 as ex05  # noqa: E402
from elbo_course.toys.gaussian_mixture import evenly_spaced  # noqa: E402
from elbo_course.toys.linear_gaussian import LinearGaussian  # noqa: E402
from closed_forms import elbo, kl_to_posterior, log_evidence  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
L1, L2, L5 = "01_jensen_and_the_elbo", "02_three_readings_of_the_elbo", "05_elbo_surgery"


def load(lesson: str, folder: str = "solutions") -> nbformat.NotebookNode:
    return nbformat.read(ROOT / folder / f"{lesson}.ipynb", as_version=4)


def outputs(lesson: str, folder: str = "solutions") -> str:
    nb = load(lesson, folder)
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def printed(text: str, pattern: str) -> list[float]:
    found = re.findall(pattern, text)
    assert found, f"pattern {pattern!r} not in the notebook outputs: re-execute the notebook"
    return [float(v) for v in found]


# ---- exercise specs: lessons 01 and 02 ---------------------------------------------------------------------
def test_lesson01_exercises():
    gap = math.log(2.0) - (3 * math.log(3) - 3 + 1) / 2
    grading.check(f"{L1}-uniform_gap", gap)
    assert re.search("exact value", grading.evaluate(f"{L1}-uniform_gap", round(gap, 3), attempt=2).message)
    grading.check(f"{L1}-toy_elbo", elbo)
    assert re.search("standard deviation", grading.evaluate(f"{L1}-toy_elbo", lambda x, m, s: elbo(x, m, s * s), attempt=2).message)  # variance passed as std

    def stub(x, m, s):  # the notebook's stub: only "Exercise <id>: ..." means "not implemented yet"
        raise NotImplementedError(f"Exercise {L1}-toy_elbo: compute the ELBO of q in closed form.")
    with pytest.raises(NotImplementedError, match="not solved"):
        grading.check(f"{L1}-toy_elbo", stub)


def test_lesson02_exercises():
    def kl(mq, lq, mp, lp):
        return 0.5 * (lp - lq + (lq.exp() + (mq - mp) ** 2) / lp.exp() - 1).sum(-1)
    grading.check(f"{L2}-kl_diag_gaussians", kl)
    assert re.search("shape", grading.evaluate(f"{L2}-kl_diag_gaussians", lambda *a: kl(*a).sum(), attempt=2).message)  # summed over everything

    def mc(x, m, s, eps):
        z = m + s * eps
        lw = torch.tensor([-0.5 * math.log(4 * math.pi * math.pi) - zj**2 / 2 - (x - zj) ** 2 / 2 for zj in z.tolist()],
                          dtype=torch.float64) + 0.5 * (math.log(2 * math.pi * s * s) + eps**2)
        return float(lw.mean()), float(lw.std() / math.sqrt(len(eps)))
    grading.check(f"{L2}-mc_elbo", mc)
    assert re.search("unbiased std", grading.evaluate(f"{L2}-mc_elbo", lambda *a: (mc(*a)[0], mc(*a)[1] * 1.01), attempt=2).message)

    right = {"log_evidence": True, "kl_to_posterior": True, "expected_log_joint": True, "entropy": False,
             "expected_log_likelihood": False, "kl_to_prior": True}
    grading.check(f"{L2}-prior_change", right)
    text = grading.evaluate(f"{L2}-prior_change", {**right, "entropy": True}, attempt=2).message
    assert "1 of the 6 True/False or choice entries are wrong" in text and "H[q]" in text  # the hint, not the key


# ---- exercise specs: lessons 03 and 04 ---------------------------------------------------------------------
def test_exercise_specs_accept_the_library_and_reject_wrong_answers() -> None:
    import torch.nn.functional as F

    from elbo_course.models import active_units

    assert evaluate("04_iwae-iwae_bound", lambda lw: log_mean_exp(lw, 0)).status == "passed"
    assert evaluate("04_iwae-iwae_bound", lambda lw: torch.log(torch.exp(lw).mean(0))).status == "failed"
    assert evaluate("04_iwae-active_units", active_units).status == "passed"
    assert evaluate("04_iwae-active_units", lambda mu: int((mu.var(0) > 0.01).sum())).status == "failed"
    assert evaluate("04_iwae-finite_variance_threshold", 0.2).status == "passed"
    good = lambda l, x, mu, lv: (F.binary_cross_entropy_with_logits(l, x, reduction="none").sum(-1)  # noqa: E731
                                 + 0.5 * (mu ** 2 + lv.exp() - 1 - lv).sum(-1)).mean()
    assert evaluate("03_the_vae-negative_elbo", good).status == "passed"
    assert evaluate("03_the_vae-negative_elbo", lambda *a: good(*a) * 2).status == "failed"
    assert evaluate("03_the_vae-reparameterized_sample", lambda m, lv, e: m + torch.exp(0.5 * lv) * e).status == "passed"
    assert evaluate("03_the_vae-reparameterized_sample", lambda m, lv, e: m + lv * e).status == "failed"


# ---- exercise specs: lesson 05 -----------------------------------------------------------------------------
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

    exid = f"{L5}-aggregate_log_density"
    assert grading.evaluate(exid, good).status == grading.PASSED
    assert grading.evaluate(exid, naive).status == grading.FAILED
    assert grading.evaluate(exid, lambda z, mu, lv: good(z, mu, lv) + math.log(mu.shape[0])).status == grading.FAILED
    assert grading.evaluate(exid, float32).status == grading.FAILED


def test_mutual_info_exercise_expected_value_by_an_independent_route():
    t = evenly_spaced(**ex05.MI_TOY)
    avg_kl = float((0.5 * (t.mu ** 2 + t.sigma ** 2 - 2 * t.sigma.log() - 1).sum(1)).mean())
    mkl, mkl_se = surgery.marginal_kl(t.mu, t.logvar, num_samples=40_000, generator=rng("tests:lesson05:mi"))
    mi = ex05.mutual_info_expected()
    assert abs((avg_kl - mkl) - mi) < 4 * mkl_se and 0 < mi < math.log(16)
    assert grading.evaluate(f"{L5}-mutual_info", avg_kl - t.terms()["marginal_kl"]).status == grading.PASSED
    assert grading.evaluate(f"{L5}-mutual_info", avg_kl).status == grading.FAILED


def test_log_n_bound_exercise():
    slack = ex05.bound_slack_expected()
    narrow = evenly_spaced(2, spacing=1.0, width=0.05).terms()["expected_entropy"]
    assert 0 < narrow < slack < math.log(2)
    t = evenly_spaced(**ex05.BOUND_TOY)
    mi, se_ = surgery.mutual_information(t.mu, t.logvar, num_samples=40_000, generator=rng("tests:lesson05:slack"))
    assert abs((math.log(2) - mi) - slack) < 4 * se_
    exid = f"{L5}-log_n_bound"
    right = {"fact": "B", "slack": slack, "wider_is_tighter": True}
    assert grading.evaluate(exid, right).status == grading.PASSED
    for wrong in ({**right, "fact": "d"}, {**right, "wider_is_tighter": False}, {**right, "slack": math.log(2)}):
        assert grading.evaluate(exid, wrong).status == grading.FAILED


# ---- the printed numbers, recomputed -----------------------------------------------------------------------
def test_lesson01_printed_numbers():
    text = outputs(L1)
    assert printed(text, r"closed form  = (-?\d+\.\d+)")[0] == pytest.approx(log_evidence(1.0), abs=1e-12)
    exact = printed(text, r"\n(?:two-point|log-normal|gamma|exponential)[^\n]*?\)\s+(\d\.\d{5})")
    gamma3 = math.log(3) - (1 + 1 / 2 - 0.5772156649015329)
    two_point = math.log(1.9) - 0.6 * math.log(0.5) - 0.4 * math.log(4.0)
    assert exact == pytest.approx([two_point, 0.32, gamma3, 0.5772156649015329], abs=6e-6)
    rows = re.findall(r"\n\s*(-?\d\.\d{3})\s+(\d\.\d{3})\s+(-?\d\.\d{6})\s+(-?\d\.\d{10})\s+(\d\.\d{10})", text)
    assert len(rows) == 5
    for m, s, e, gap, kl in (map(float, r) for r in rows):
        s = math.sqrt(0.5) if s == 0.707 else s
        assert e == pytest.approx(elbo(1.0, m, s), abs=2e-6)
        assert kl == pytest.approx(kl_to_posterior(1.0, m, s), abs=1e-9) and gap == pytest.approx(kl, abs=1e-9)
    assert printed(text, r"J\(W\) = (\d\.\d+)")[0] == pytest.approx(math.log(2) - 1.5 * math.log(3) + 1, abs=1e-6)


def test_lesson02_printed_numbers():
    text = outputs(L2)
    single = elbo(1.5, 0.4, 0.9)
    readings = printed(text, r"\((?:A|B|C)\)[^\n]*?\s(-\d\.\d{12})\n")
    assert readings == pytest.approx([single] * 3, abs=1e-12)
    rows = re.findall(r"\n\s*(\d)\s+(-?\d\.\d{4})\s+(-\d\.\d{6})\s+(\d\.\d{6})\s+(-\d\.\d{6})\s+(-\d\.\d{6})", text)
    assert len(rows) == 8
    for _, x, _, _, elbo_n, lpx in rows:  # x printed to 4 decimals: compare to that precision
        x = float(x)
        assert float(elbo_n) == pytest.approx(elbo(x, 0.3 * x + 0.2, 0.9), abs=2e-4)
        assert float(lpx) == pytest.approx(log_evidence(x), abs=2e-4)
    data = LinearGaussian().sample_data(8, generator=rng(f"{L2}:data"))
    avg = sum(elbo(float(x), 0.3 * float(x) + 0.2, 0.9) for x in data) / 8
    assert printed(text, r"recon_minus_kl\s+= (-\d\.\d{12})")[0] == pytest.approx(avg, abs=1e-11)
    assert printed(text, r"log p\(x_1\.\.x_N\)\s+= (-\d\.\d{12})")[0] == pytest.approx(
        sum(log_evidence(float(x)) for x in data) / 8, abs=1e-11)
    mc = re.findall(r"\n\s*(\d+)\s+(-\d\.\d{4}) ± (\d\.\d{4})\s+(-\d\.\d{4}) ± (\d\.\d{4})", text)
    assert [int(r[0]) for r in mc] == [10, 100, 1000, 10000, 100000]
    for _, fm, fs, cm, cs in mc:
        assert abs(float(fm) - avg) < 4 * float(fs) and abs(float(cm) - avg) < 4 * float(cs)


# ---- the notebooks' shape ----------------------------------------------------------------------------------
def test_lessons_fail_only_at_stubs():
    for lesson in (L1, L2):
        nb = load(lesson, "lessons")
        source = "\n".join(c.source for c in nb.cells)
        assert "BEGIN SOLUTION" not in source and "HIDDEN TESTS" not in source
        assert source.count("raise NotImplementedError(\"Exercise") == (2 if lesson == L1 else 3)
        assert nb.metadata["elbo_course"]["lesson_id"] == lesson
        assert all("slide_type" in c.metadata.get("slideshow", {}) for c in nb.cells)


@pytest.mark.parametrize("lesson", [L1, L2, "03_the_vae", "04_iwae", L5])
def test_generator_tags_follow_the_style_guide(lesson):
    """Every rng / np_rng tag in a solution notebook is "<lesson_id>:<purpose>", and the notebook imports
    none of the modules that ``toys`` and ``figures`` replaced."""
    code = "\n".join(c.source for c in load(lesson).cells if c.cell_type == "code")
    tags = re.findall(r"\b(?:np_)?rng\(f?\"([^\"]*)\"", code)
    assert tags, "no generator in the notebook?"
    assert all(tag.startswith(f"{lesson}:") and re.fullmatch(r"[\w{}.\-\[\]\"']+", tag.split(":", 1)[1])
               for tag in tags), tags
    old_modules = r"(toy|explorers|surgery_explorer|implicit|estimators)\b"
    assert not re.search(r"elbo_course\." + old_modules, code), f"{lesson} still imports an old module"
    assert not re.search(r"from elbo_course import [^\n]*\b" + old_modules, code), f"{lesson} still imports an old module"


def test_lesson05_notebook_shape():
    nb = load(L5)
    assert nb.metadata["elbo_course"]["lesson_id"] == L5
    assert all("slide_type" in c.metadata.get("slideshow", {}) for c in nb.cells)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "elbo_course.setup()" in code[0].source and "make lab" in code[0].source
    assert "pip install --quiet elbo-course" not in code[0].source  # not on PyPI: never install a namesake
    assert all(len(c.source.split("\n")) <= 15 for c in code)
    grades = [c for c in code if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(grades) >= 2
    for c in grades:
        assert c.source.startswith(f'check("{L5}-') and "### BEGIN HIDDEN TESTS" in c.source
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for needle in ("01_jensen_and_the_elbo.ipynb", "02_three_readings_of_the_elbo.ipynb", "Hoffman",
                   "Makhzani", "VampPrior", "★★★"):
        assert needle in text
    errors = [o for c in code for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, "the stored notebook has an error output: re-execute it"


def test_lesson05_exercises_grade_from_setup_and_context_cells_alone():
    """Run only what the grader runs (setup, context, solution, grade cells) in a fresh namespace."""
    nb = load(L5)
    wanted = [c for c in nb.cells if c.cell_type == "code" and (
        {"setup", "context"} & set(c.metadata.get("tags", [])) or "nbgrader" in c.metadata)]
    namespace: dict = {}
    for cell in wanted:
        source = "\n".join("    pass" if line.strip().startswith("%pip") else line for line in cell.source.split("\n"))
        exec(compile(source, "<cell>", "exec"), namespace)  # noqa: S102 - our own notebook
    assert sum("nbgrader" in c.metadata and c.metadata["nbgrader"].get("grade") for c in wanted) == 4
