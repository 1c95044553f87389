"""Figures and widget of lesson 04 (``elbo_course.figures.lesson04``): the IWAE gap, the q_EW panels and
their explorer, whose callback ``qew_panel`` is a plain function."""
from __future__ import annotations

import math

import matplotlib
import numpy as np

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from elbo_course.figures import lesson04 as figs  # noqa: E402
from elbo_course.figures import new_figure, style_problems  # noqa: E402


def test_widget_callback_draws_and_returns_numbers() -> None:
    fig, ax = new_figure(4.0, 4.0)
    out = figs.qew_panel(1, n_samples=300, ax=ax, replicates=2000, inner=10)
    assert out["K"] == 1 and out["elbo_qew"] == pytest.approx(out["elbo_q"], abs=1e-9)
    assert abs(out["L_K"] - out["elbo_q"]) < 4 * out["L_K_se"]
    assert out["elbo_qew"] < out["log_px"] - 1.0           # q is far from the two-lobed posterior
    assert len(ax.collections) >= 1 and "K = 1" in ax.get_title()
    again = figs.qew_panel(1, n_samples=300, replicates=2000, inner=10)   # its own generator: same numbers
    assert again == out
    plt.close(fig)


@pytest.mark.parametrize("K", [2, 5, 30])
def test_iwae_bound_below_elbo_of_qew_below_evidence(K: int) -> None:
    out = figs.qew_panel(K, n_samples=500, replicates=20000, inner=1000, inner_sets=2)
    assert out["L_K"] + 3 * math.hypot(out["L_K_se"], out["elbo_qew_se"]) < out["elbo_qew"] <= out["log_px"] + 1e-9
    assert out["mass"] == pytest.approx(1.0, abs=0.05)


def test_static_panels_and_explorer():
    fig, panels = figs.plot_qew_panels((1, 3), n_samples=200, replicates=200, inner=50)
    assert [p["K"] for p in panels] == [1, 3] and len(fig.axes) == 2
    fig.canvas.draw()
    assert style_problems(fig) == []
    fig, _ = figs.plot_qew_panels(n_samples=200, replicates=50, inner=10)   # the lesson's four panels
    fig.canvas.draw()
    assert len(fig.axes) == len(figs.QEW_PANEL_KS) and style_problems(fig) == []
    plt.close("all")
    _, ax = new_figure(4.0, 4.0)                                             # the explorer's axis
    figs.qew_panel(2, n_samples=100, ax=ax, replicates=50, inner=10)
    ax.figure.canvas.draw()
    assert style_problems(ax.figure) == []
    box = figs.qew_explorer(options=(1, 2), replicates=50, inner=10)
    slider = box.children[0]
    assert slider.value == 1
    bundle = box._repr_mimebundle_()                     # without a kernel: a picture, not the widget's repr
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "image/png" in bundle and "VBox(" not in bundle["text/plain"]
    slider.value = 2   # redraws through the callback
    plt.close("all")


def test_gap_figure():
    table = {"q_A": [(-1.5, 0.01), (-1.45, 0.01)], "q_B": [(-2.0, 0.02), (-1.9, 0.02)]}
    fig = figs.plot_iwae_gap([1, 10], table, log_px=-1.4, rho=0.2)
    ax = fig.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log" and "nats" in ax.get_ylabel()
    assert len(ax.get_legend().get_texts()) == 3
    fig.canvas.draw()
    assert style_problems(fig) == []
    plt.close(fig)


def _model(k: int, shift: float) -> dict:
    ks = (1, 5, 50, 5000)
    return {"epochs": 3, "train_loss": [120.0 - shift, 100.0 - shift, 95.0 - shift],
            "bounds": {str(K): {"mean": -96.0 + shift * math.log(K), "se": 0.8} for K in ks}, "k": k}


def test_training_and_bounds_figure():
    fig = figs.plot_training_and_bounds({"vae_k1": _model(1, 0.5), "iwae_k5": _model(5, 1.0)})
    left, right = fig.axes
    assert len(left.get_lines()) == 2 and right.get_xscale() == "log"
    assert "nats" in left.get_ylabel() and "nats" in right.get_ylabel()
    fig.canvas.draw()
    assert style_problems(fig) == []
    plt.close(fig)


def test_qew_masses_figure():
    masses = np.random.default_rng(0).gamma(4.0, 0.25, size=500)
    fig = figs.plot_qew_masses(masses)
    ax = fig.axes[0]
    assert len(ax.get_legend().get_texts()) == 3 and "dz" in ax.get_xlabel()
    fig.canvas.draw()
    assert style_problems(fig) == []
    plt.close(fig)
