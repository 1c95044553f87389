"""Lessons 01 (Jensen and the ELBO) and 02 (three readings): widget callbacks, exercise specs, and the
numbers the solution notebooks print, recomputed here from independent formulas (plain ``math``)."""
from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from elbo_course import explorers, grading, rng  # noqa: E402
from elbo_course.toy import LinearGaussian  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
L1, L2 = "01_jensen_and_the_elbo", "02_three_readings_of_the_elbo"


# ---- independent closed forms for z ~ N(0, 1), x | z ~ N(z, 1) -------------------------------------------
def log_evidence(x: float) -> float:
    return -0.5 * math.log(4 * math.pi) - x * x / 4


def elbo(x: float, m: float, s: float) -> float:
    return -0.5 * math.log(2 * math.pi) + 0.5 - m * m / 2 - (x - m) ** 2 / 2 - s * s + math.log(s)


def kl_to_posterior(x: float, m: float, s: float) -> float:
    return 0.5 * ((s * s + (m - x / 2) ** 2) / 0.5 - 1 - math.log(s * s / 0.5))


def outputs(lesson: str, folder: str = "solutions") -> str:
    nb = nbformat.read(ROOT / folder / f"{lesson}.ipynb", as_version=4)
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def printed(text: str, pattern: str) -> list[float]:
    found = re.findall(pattern, text)
    assert found, f"pattern {pattern!r} not in the notebook outputs: re-execute the notebook"
    return [float(v) for v in found]


# ---- widget callbacks ------------------------------------------------------------------------------------
@pytest.mark.parametrize("x", [-2.0, 0.0, 1.0, 3.3])
@pytest.mark.parametrize("m, s", [(-1.0, 1.5), (0.2, 0.9), (2.0, 0.1), (0.0, 2.4)])
def test_explorer_state_matches_independent_formulas(x, m, s):
    st = explorers.elbo_explorer_state(m, s, x)
    assert st["log_evidence"] == pytest.approx(log_evidence(x), abs=1e-12)
    assert st["elbo"] == pytest.approx(elbo(x, m, s), abs=1e-12)
    assert st["kl"] == pytest.approx(kl_to_posterior(x, m, s), abs=1e-12)
    assert abs(st["gap"] - st["kl"]) < 1e-9 and st["gap"] > 0
    assert (st["posterior_mean"], st["posterior_std"]) == pytest.approx((x / 2, math.sqrt(0.5)))


def test_presets_order_and_exact_preset_is_tight():
    for x in (-1.0, 1.0, 2.5):
        states = [explorers.elbo_explorer_state(*explorers.preset(name, x), x=x) for name in ("poor", "better", "exact")]
        assert states[0]["elbo"] < states[1]["elbo"] < states[2]["elbo"]
        assert abs(states[2]["gap"]) < 1e-12
    with pytest.raises(KeyError, match="choose one of"):
        explorers.preset("perfect")
    with pytest.raises(ValueError, match="positive"):
        explorers.elbo_explorer_state(0.0, 0.0)


def test_widget_buttons_drive_the_callback():
    box = explorers.elbo_explorer(x=1.0)
    (mean, std), buttons = box.children[0].children, box.children[1].children
    assert [b.description for b in buttons] == list(explorers.PRESETS)
    buttons[2].click()  # "exact"
    assert (mean.value, std.value) == pytest.approx(explorers.preset("exact", 1.0), abs=0.01)
    buttons[0].click()  # "poor"
    assert (mean.value, std.value) == pytest.approx(explorers.preset("poor", 1.0))


def test_static_figures_have_labelled_axes():
    fig = explorers.plot_presets(1.0)
    assert len(fig.axes) == 6 and all(ax.get_xlabel() or ax.get_ylabel() or ax.get_title() for ax in fig.axes)
    assert "nats" in fig.axes[3].get_ylabel()
    fig = explorers.plot_jensen()
    assert "nats" in fig.axes[1].get_ylabel()


# ---- Jensen helper and Monte Carlo estimator -----------------------------------------------------------
def test_jensen_gap_mc_on_an_exact_sample():
    w = torch.tensor([0.5] * 6 + [4.0] * 4, dtype=torch.float64)  # empirical law = the two-point law
    gap, se = explorers.jensen_gap_mc(w)
    assert gap == pytest.approx(math.log(1.9) - 0.6 * math.log(0.5) - 0.4 * math.log(4.0), abs=1e-12)
    assert se > 0
    assert explorers.jensen_gap_mc(torch.full((5,), 3.0)) == pytest.approx((0.0, 0.0), abs=1e-12)
    with pytest.raises(ValueError, match="positive"):
        explorers.jensen_gap_mc(torch.tensor([1.0, -1.0]))


def test_mc_elbo_dataset_unbiased_and_zero_variance_at_exact_encoder():
    toy, data = LinearGaussian(), torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)
    exact = sum(elbo(float(x), 0.3 * float(x) + 0.2, 0.9) for x in data) / 3
    est = explorers.mc_elbo_dataset(toy, data, (0.3, 0.2, 0.9), 20_000, torch.Generator().manual_seed(3))
    for mean, se in est.values():
        assert abs(mean - exact) < 5 * se and 0 < se < 0.05
    same = torch.full((4,), 1.2, dtype=torch.float64)
    est = explorers.mc_elbo_dataset(toy, same, (0.5, 0.0, math.sqrt(0.5)), 500, torch.Generator().manual_seed(4))
    assert est["full_mc"][1] < 1e-12 and est["full_mc"][0] == pytest.approx(log_evidence(1.2), abs=1e-12)


# ---- exercise specs: right answers pass, wrong ones fail with a useful message -----------------------------
def test_lesson01_exercises():
    gap = math.log(2.0) - (3 * math.log(3) - 3 + 1) / 2
    grading.check(f"{L1}.uniform_gap", gap)
    with pytest.raises(AssertionError, match="exact value"):
        grading.check(f"{L1}.uniform_gap", round(gap, 3))
    grading.check(f"{L1}.toy_elbo", elbo)
    with pytest.raises(AssertionError, match="standard deviation"):
        grading.check(f"{L1}.toy_elbo", lambda x, m, s: elbo(x, m, s * s))  # variance passed as std
    def stub(x, m, s):
        raise NotImplementedError("stub")
    with pytest.raises(NotImplementedError, match="not implemented"):
        grading.check(f"{L1}.toy_elbo", stub)


def test_lesson02_exercises():
    def kl(mq, lq, mp, lp):
        return 0.5 * (lp - lq + (lq.exp() + (mq - mp) ** 2) / lp.exp() - 1).sum(-1)
    grading.check(f"{L2}.kl_diag_gaussians", kl)
    with pytest.raises(AssertionError, match="shape"):
        grading.check(f"{L2}.kl_diag_gaussians", lambda *a: kl(*a).sum())  # summed over everything

    def mc(x, m, s, eps):
        z = m + s * eps
        lw = torch.tensor([-0.5 * math.log(4 * math.pi * math.pi) - zj**2 / 2 - (x - zj) ** 2 / 2 for zj in z.tolist()],
                          dtype=torch.float64) + 0.5 * (math.log(2 * math.pi * s * s) + eps**2)
        return float(lw.mean()), float(lw.std() / math.sqrt(len(eps)))
    grading.check(f"{L2}.mc_elbo", mc)
    with pytest.raises(AssertionError, match="unbiased std"):
        grading.check(f"{L2}.mc_elbo", lambda *a: (mc(*a)[0], mc(*a)[1] * 1.01))

    right = {"log_evidence": True, "kl_to_posterior": True, "expected_log_joint": True, "entropy": False,
             "expected_log_likelihood": False, "kl_to_prior": True}
    grading.check(f"{L2}.prior_change", right)
    with pytest.raises(AssertionError, match="entropy"):
        grading.check(f"{L2}.prior_change", {**right, "entropy": True})


# ---- the printed numbers, recomputed --------------------------------------------------------------------
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
    data = LinearGaussian().sample_data(8, generator=rng("data"))
    avg = sum(elbo(float(x), 0.3 * float(x) + 0.2, 0.9) for x in data) / 8
    assert printed(text, r"recon_minus_kl\s+= (-\d\.\d{12})")[0] == pytest.approx(avg, abs=1e-11)
    assert printed(text, r"log p\(x_1\.\.x_N\)\s+= (-\d\.\d{12})")[0] == pytest.approx(
        sum(log_evidence(float(x)) for x in data) / 8, abs=1e-11)
    mc = re.findall(r"\n\s*(\d+)\s+(-\d\.\d{4}) ± (\d\.\d{4})\s+(-\d\.\d{4}) ± (\d\.\d{4})", text)
    assert [int(r[0]) for r in mc] == [10, 100, 1000, 10000, 100000]
    for _, fm, fs, cm, cs in mc:
        assert abs(float(fm) - avg) < 4 * float(fs) and abs(float(cm) - avg) < 4 * float(cs)


def test_lessons_fail_only_at_stubs():
    for lesson in (L1, L2):
        nb = nbformat.read(ROOT / "lessons" / f"{lesson}.ipynb", as_version=4)
        source = "\n".join(c.source for c in nb.cells)
        assert "BEGIN SOLUTION" not in source and "HIDDEN TESTS" not in source
        assert source.count("raise NotImplementedError(\"Exercise") == (2 if lesson == L1 else 3)
        assert nb.metadata["elbo_course"]["lesson_id"] == lesson
        assert all("slide_type" in c.metadata.get("slideshow", {}) for c in nb.cells)
