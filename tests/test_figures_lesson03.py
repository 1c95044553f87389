"""Figures of lesson 03 (``elbo_course.figures.lesson03``): variance sweeps, the live learning curve and the
pictures of a trained VAE, each within the style rules."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from elbo_course.figures import lesson03 as figs  # noqa: E402
from elbo_course.figures import style_problems  # noqa: E402
from elbo_course.toys import gradient_variance as est  # noqa: E402


def _assert_clean(fig) -> None:
    fig.canvas.draw()
    assert style_problems(fig) == []
    plt.close(fig)


def test_plot_variance_sweeps_draws_three_panels():
    rng = np.random.default_rng(4)
    tables = {p: est.variance_table(p, v, S=4, R=200, rng=rng) for p, v in
              (("S", [2, 4]), ("d", [1, 4]), ("sigma", [0.5, 1.0]))}
    fig = figs.plot_variance_sweeps(tables, title="three sweeps")
    assert len(fig.axes) == 3 and all(len(ax.lines) >= 3 for ax in fig.axes)
    assert all(ax.get_xscale() == ax.get_yscale() == "log" for ax in fig.axes)
    assert fig.get_suptitle() == "three sweeps" and len(fig.legends[0].get_texts()) == len(est.ESTIMATORS)
    _assert_clean(fig)


def test_live_loss_plot_adds_points_and_finishes_without_a_notebook():
    plot = figs.LiveLossPlot(5, ["training images", "test images"])
    assert plt.fignum_exists(plot.fig.number) is False  # closed in pyplot: the inline backend will not show it twice
    for epoch, (a, b) in enumerate([(200.0, 201.0), (180.0, 185.0), (150.0, 160.0)], start=1):
        assert plot.add({"training images": a, "test images": b}) == {"training images": a, "test images": b}
        x, y = plot.lines["test images"].get_data()
        assert list(x) == list(range(1, epoch + 1)) and y[-1] == b
    low, high = plot.ax.get_ylim()
    assert low <= 150.0 and high >= 201.0 and plot.ax.get_xlim() == (0.5, 5.5)
    fig = plot.finish("a finished title")
    assert fig.axes[0].get_title() == "a finished title" and plot.handle is None
    _assert_clean(fig)


def test_live_loss_plot_updates_one_display_handle(monkeypatch):
    import IPython.display

    calls = []

    class Handle:
        def update(self, obj):
            calls.append(("update", obj))

    monkeypatch.setattr(IPython.display, "display", lambda obj, display_id=None: calls.append(("display", obj))
                        or (Handle() if display_id else None))
    monkeypatch.setattr(IPython.display, "clear_output", lambda wait=False: calls.append(("clear", wait)))
    plot = figs.LiveLossPlot(3, ["test images"])
    plot.show()
    plot.add({"test images": 190.0})
    plot.finish()
    assert [c[0] for c in calls] == ["display", "update", "clear", "display"]
    assert all(c[1] is plot.fig for c in calls if c[0] != "clear")


@pytest.mark.parametrize("n_models", [1, 2])
def test_image_grids_fit_the_style_rules(n_models):
    rng = np.random.default_rng(0)
    rows = {f"d = {d}": rng.random((10, 784)) for d in (2, 20)[:n_models]}
    fig = figs.plot_reconstructions(rng.random((10, 784)), rows)
    assert len(fig.axes) == 10 * (n_models + 1)
    _assert_clean(fig)
    fig = figs.plot_prior_samples({k: v[:8] for k, v in rows.items()})
    assert len(fig.axes) == 8 * n_models
    _assert_clean(fig)


def test_plot_latent_means_fits_the_style_rules():
    rng = np.random.default_rng(1)
    fig = figs.plot_latent_means(rng.normal(size=(500, 2)), rng.integers(0, 10, 500), title="means")
    assert fig.axes[0].get_title() == "means" and fig.axes[0].get_xlabel() == "μ₁(x)"
    _assert_clean(fig)
