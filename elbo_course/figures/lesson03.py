"""Lesson 03 (the VAE): the variance of three unbiased gradient estimators, swept over S, d and σ.

    plot_variance_sweeps(tables)   one log-log panel per swept parameter of ``toys.gradient_variance.variance_table``
"""
from __future__ import annotations

import numpy as np

from ..toys.gradient_variance import ESTIMATORS
from . import COLORS, FONT, finish, new_figure

__all__ = ["ESTIMATOR_LABELS", "plot_variance_sweeps"]

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
