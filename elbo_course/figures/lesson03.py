"""Lesson 03 (the VAE): gradient-estimator variances, a learning curve drawn live, and a trained VAE's pictures.

    plot_variance_sweeps(tables)        log-log panels of ``toys.gradient_variance.variance_table`` sweeps
    LiveLossPlot(epochs, labels)        -ELBO against epochs, redrawn in place through an IPython display handle
    plot_reconstructions(data, recon)   test images above their reconstructions, one row per model
    plot_prior_samples(samples)         decoded prior samples, one row per model
    plot_latent_means(mu, labels)       2-D encoder means coloured by digit, with the prior's 2-sd circle
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..toys.gradient_variance import ESTIMATORS
from . import COLORS, FONT, finish, new_figure

__all__ = ["ESTIMATOR_LABELS", "plot_variance_sweeps", "LiveLossPlot", "plot_reconstructions", "plot_prior_samples",
           "plot_latent_means"]

ESTIMATOR_LABELS = {"reparameterization": "reparameterization", "score_function": "score function",
                    "score_function_baseline": "score function + baseline"}
_COLORS = dict(zip(ESTIMATORS, (COLORS["q"], COLORS["second"], COLORS["third"])))
_XLABELS = {"S": "samples S", "d": "latent dimension d", "sigma": "scale σ of q"}


def plot_variance_sweeps(tables: dict[str, dict[str, np.ndarray]], title: str | None = None):
    """Log-log panels (one per swept parameter in ``tables``: "S", "d", "sigma") of the per-coordinate
    variance of each estimator ± 2 se, under ``title``; returns the Figure."""
    import matplotlib.pyplot as plt

    fig, axes = new_figure(8.0, 3.6, 1, len(tables), layout="constrained")
    axes = np.atleast_1d(axes)
    for ax, (param, table) in zip(axes, tables.items()):
        for name in ESTIMATORS:
            ax.errorbar(table["values"], table[name], yerr=2 * table[f"{name}_se"], marker="o", ms=3,
                        color=_COLORS[name], label=ESTIMATOR_LABELS[name], capsize=2)
        ax.set(xscale="log", yscale="log", xlabel=_XLABELS[param])
        ax.set_xticks(table["values"], [f"{v:g}" for v in table["values"]], fontsize=FONT)
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("variance of ĝ per coordinate")
    if title:
        fig.suptitle(title)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=FONT,
               frameon=False)
    return finish(fig)


class LiveLossPlot:
    """Learning curves (one line per label, one point per epoch) that redraw in place while a model trains.

    ``show()`` displays the figure in a notebook and keeps the display handle; each ``add({label: value})``
    appends one point per curve and updates that one output (outside IPython it only updates the figure).
    ``finish(title)`` clears the cell's output (a progress bar included) and displays the finished figure
    once, so that a saved notebook keeps a clean figure. The figure is closed in pyplot at once, so the
    inline backend does not show it a second time at the end of the cell.
    """

    def __init__(self, epochs: int, labels: list[str], title: str = "Training: −ELBO per image",
                 ylabel: str = "−ELBO per image (nats)") -> None:
        import matplotlib.pyplot as plt

        self.fig, self.ax = new_figure(6.5, 3.4, layout="constrained")
        plt.close(self.fig)
        colors = (COLORS["q"], COLORS["second"], COLORS["third"], COLORS["gap"])
        self.values: dict[str, list[float]] = {label: [] for label in labels}
        self.lines = {label: self.ax.plot([], [], marker="o", ms=3, color=colors[i % len(colors)], label=label)[0]
                      for i, label in enumerate(labels)}
        self.ax.set(xlim=(0.5, epochs + 0.5), xlabel="epoch", ylabel=ylabel, title=title)
        self.ax.xaxis.get_major_locator().set_params(integer=True)
        self.ax.legend(fontsize=FONT, loc="upper right")
        self.ax.grid(alpha=0.3)
        self.handle: Any = None
        finish(self.fig)

    def show(self) -> None:
        """Display the (empty) figure and keep its display handle for the in-place updates."""
        from IPython.display import display

        self.handle = display(self.fig, display_id=True)

    def add(self, point: dict[str, float]) -> dict[str, float]:
        """Append one value per label (``point``: {label: value}) and redraw; returns ``point``."""
        for label, value in point.items():
            self.values[label].append(float(value))
            ys = self.values[label]
            self.lines[label].set_data(np.arange(1, len(ys) + 1), ys)
        self.ax.relim()
        self.ax.autoscale_view(scalex=False)
        if self.handle is not None:
            self.handle.update(self.fig)
        return point

    def finish(self, title: str | None = None):
        """Set the final ``title``; in a notebook replace the cell's output by the finished figure. Returns it."""
        if title:
            self.ax.set_title(title)
        finish(self.fig)
        if self.handle is not None:
            from IPython.display import clear_output, display

            clear_output(wait=True)
            display(self.fig)
            self.handle = None
        return self.fig


def _image_grid(rows: dict[str, Any], width: float, height: float, title: str):
    """One row of 28 x 28 images per entry of ``rows`` ({label: (n, 784) array}), labelled on the left."""
    n = len(next(iter(rows.values())))
    fig, axes = new_figure(width, height, len(rows), n, squeeze=False, gridspec_kw={"wspace": 0.05, "hspace": 0.08})
    for i, (label, images) in enumerate(rows.items()):
        images = np.asarray(images, dtype=float).reshape(-1, 28, 28)
        for j in range(n):
            axes[i, j].imshow(images[j], cmap="gray_r", vmin=0, vmax=1)
            axes[i, j].set(xticks=[], yticks=[])
        axes[i, 0].set_ylabel(label, fontsize=FONT, rotation=0, ha="right", va="center")
    fig.suptitle(title)
    return finish(fig)


def plot_reconstructions(data: Any, recon: dict[str, Any],
                         title: str = "Test images (top) and their reconstructions: pixel probabilities"):
    """Images ``data`` (n, 784) in the top row, each model's reconstructions ``recon[label]`` (n, 784) below."""
    rows = {"data": data, **recon}
    return _image_grid(rows, 8.0, 0.85 * len(rows) + 0.5, title)


def plot_prior_samples(samples: dict[str, Any], title: str = "Decoded samples from the prior N(0, I)"):
    """One row per model of decoded prior samples ``samples[label]`` (n, 784) as pixel probabilities."""
    return _image_grid(samples, 8.0, 0.75 * len(samples) + 0.45, title)


def plot_latent_means(mu: Any, labels: Any, title: str = "Encoder means of test images, d = 2"):
    """Scatter of 2-D encoder means ``mu`` (N, 2) coloured by digit ``labels`` (N,), with the circle of
    radius 2 (two prior standard deviations); returns the Figure."""
    mu, labels = np.asarray(mu, dtype=float), np.asarray(labels)
    fig, ax = new_figure(5.2, 4.0, layout="constrained")
    points = ax.scatter(mu[:, 0], mu[:, 1], c=labels, cmap="tab10", s=3, alpha=0.7, vmin=-0.5, vmax=9.5)
    bar = fig.colorbar(points, ax=ax, ticks=range(10))
    bar.set_label("digit", fontsize=FONT)
    bar.ax.tick_params(labelsize=FONT)
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(2 * np.cos(t), 2 * np.sin(t), "k--", lw=0.8)
    ax.set(xlabel="μ₁(x)", ylabel="μ₂(x)", title=title, aspect="equal")
    return finish(fig)
