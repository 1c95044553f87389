"""Lesson 05 (ELBO surgery): the toys, the three-term ELBO explorer with its presets, and the sweeps.

The numbers come from ``toys.gaussian_mixture`` (``GaussianMixtureToy``, ``surgery_state``: the explorer's
plain callback). Figures:

    plot_toy(toy_1d, toy_2d)          q(z|x_n)/N and q(z) against p(z) in 1-D, q(n|z) stacked, q(z) in 2-D
    plot_terms(states, ax)            one stacked bar per state: ①, −②, −③ from 0 down to the ELBO
    plot_state(state)                 the explorer's view of one state: densities and the stacked terms
    SURGERY_PRESETS                   name -> keyword arguments of ``surgery_state`` (the static settings)
    plot_surgery_presets()            the explorer's static figure: each preset's q(z), p(z) and terms
    surgery_explorer()                sliders (width, spacing, N) and a prior switch (ipywidgets)
    plot_mi_sweeps(...)               I(n; z) against the encoder width and along a collapse onto the prior
    plot_prior_comparison(...)        three priors for one encoder, and the ELBO under N(0, s²) priors
"""
from __future__ import annotations

import math
import textwrap

import torch

from ..toys.gaussian_mixture import GaussianMixtureToy, surgery_state
from . import COLORS, FONT, explorer, finish, new_figure

__all__ = ["PRIOR_LABELS", "SURGERY_PRESETS", "plot_toy", "plot_terms", "plot_state", "plot_surgery_presets",
           "surgery_explorer", "plot_mi_sweeps", "plot_prior_comparison"]

PRIOR_LABELS = {"standard": "N(0, 1)", "fitted": "fitted Gaussian", "aggregate": "q(z) itself"}
# name -> keyword arguments of toys.gaussian_mixture.surgery_state (1-D, N = 8)
SURGERY_PRESETS: dict[str, dict] = {
    "wide, overlapping encoders": dict(width=1.0, spacing=0.2, n_components=8, prior="standard"),
    "medium encoders": dict(width=0.5, spacing=1.0, n_components=8, prior="standard"),
    "narrow encoders, N(0,1) prior": dict(width=0.1, spacing=1.0, n_components=8, prior="standard"),
    "narrow encoders, prior = q(z)": dict(width=0.1, spacing=1.0, n_components=8, prior="aggregate"),
}


def _r(value: float) -> str:
    """Two decimals without a '-0.00'."""
    return f"{round(value, 2) + 0.0:.2f}"


def _wrap(label: str, width: int) -> str:
    """``label`` wrapped at ``width`` characters, keeping its own line breaks."""
    return "\n".join(textwrap.fill(part, width) for part in label.split("\n"))


def plot_toy(toy_1d: GaussianMixtureToy, toy_2d: GaussianMixtureToy):
    """Three panels: 1-D q(z|x_n)/N, q(z) and p(z); 1-D q(n|z) stacked over n; 2-D q(z) against p(z)."""
    fig, axes = new_figure(8.0, 3.2, 1, 3, layout="constrained", gridspec_kw={"width_ratios": [1.2, 1.2, 1]})
    half = float(toy_1d.mu.abs().max() + 4 * toy_1d.sigma.max())
    z = torch.linspace(-half, half, 801, dtype=torch.float64)[:, None]
    for k, comp in enumerate(toy_1d.component_log_prob(z).exp() / toy_1d.n):
        axes[0].plot(z[:, 0], comp, lw=0.8, color=f"C{k % 10}", alpha=0.8)
    axes[0].plot(z[:, 0], toy_1d.log_aggregate(z).exp(), color="black", lw=2, label="q(z)")
    axes[0].plot(z[:, 0], toy_1d.prior_log_prob(z).exp(), color=COLORS["prior"], ls="--", label="p(z)")
    axes[0].set(xlabel="z", ylabel="density", title=f"1-D: q(z|x_n)/N, N = {toy_1d.n}")
    axes[0].legend(fontsize=FONT, loc="upper left", frameon=False)
    axes[1].stackplot(z[:, 0].numpy(), toy_1d.index_posterior(z).exp().numpy(),
                      colors=[f"C{k % 10}" for k in range(toy_1d.n)], alpha=0.8)
    axes[1].set(xlabel="z", ylabel="q(n | z)", title="which point produced z?", ylim=(0, 1))
    grid = torch.linspace(-3.5, 3.5, 201, dtype=torch.float64)
    zz = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    shape = (grid.numel(), grid.numel())
    axes[2].contourf(grid, grid, toy_2d.log_aggregate(zz).exp().reshape(shape).T, levels=12, cmap="Blues")
    axes[2].contour(grid, grid, toy_2d.prior_log_prob(zz).exp().reshape(shape).T, levels=5,
                    colors=COLORS["prior"], linestyles="--", linewidths=1)
    axes[2].plot(toy_2d.mu[:, 0], toy_2d.mu[:, 1], "k+", ms=7)
    axes[2].set(xlabel="z₁", ylabel="z₂", aspect="equal", title=f"2-D: q(z) vs p(z), N = {toy_2d.n}")
    fig.suptitle("The aggregate posterior q(z) is a bumpy mixture; q(n|z) says where each code came from")
    return finish(fig)


def plot_terms(states: dict[str, dict], ax=None, legend: bool = True, wrap: int = 18, prefix: str = "ELBO "):
    """One bar per state stacking avg_recon, -I and -marginal KL from 0 (a waterfall whose end, the black
    tick, is the ELBO, labelled ``prefix`` + its value); a grey dash marks the exact (1/N) Σ_n log p(x_n)
    under that state's prior. ``states``: label -> ``surgery_state`` dict. Returns the Axes."""
    if ax is None:
        _, ax = new_figure(4.0, 3.2, layout="constrained")
    for i, (label, s) in enumerate(states.items()):
        parts = [(s["avg_recon"], "recon", "① avg reconstruction"), (-s["mutual_info"], "mi", "② − I(n; z)"),
                 (-s["marginal_kl"], "mkl", "③ − KL(q(z) ‖ p(z))")]
        base = 0.0
        for value, key, name in parts:
            ax.bar(i, value, bottom=base, color=COLORS[key], width=0.6, label=name if i == 0 else None)
            base += value
        ax.plot([i - 0.35, i + 0.35], [s["elbo"]] * 2, color="black", lw=2.5, label="ELBO" if i == 0 else None)
        ax.plot([i - 0.35, i + 0.35], [s["log_evidence"]] * 2, color=COLORS["prior"], ls="--", lw=1.5,
                label="avg log p(x)" if i == 0 else None)
        ax.annotate(f"{prefix}{_r(s['elbo'])}", (i, s["elbo"]), xytext=(0, -5), textcoords="offset points",
                    ha="center", va="top", fontsize=FONT)
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_xticks(range(len(states)), [_wrap(label, wrap) for label in states], fontsize=FONT)
    ax.set_ylabel("nats per data point")
    ax.set_xlim(-0.6, len(states) - 0.4)
    low = min(min(s["elbo"], s["log_evidence"], s["avg_recon"]) for s in states.values())
    ax.set_ylim(min(1.2 * low, low - 0.9), 0.2)  # room below the lowest bar for its ELBO label
    if legend:
        ax.legend(fontsize=FONT, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    return ax


def _draw_density(ax, state: dict, title: str, legend: bool) -> None:
    z = state["z"].numpy()
    for comp in state["components"]:
        ax.plot(z, comp.numpy(), color=COLORS["q"], lw=0.6, alpha=0.5)
    ax.plot(z, state["q_z"].numpy(), color=COLORS["q"], lw=2, label="q(z); thin: q(z|x_n)/N")
    ax.plot(z, state["p_z"].numpy(), color="black", ls="--", lw=1.5, label=f"p(z) = {PRIOR_LABELS[state['prior']]}")
    ax.set(xlabel="z", ylim=(0, 1.15 * max(float(state["q_z"].max()), float(state["p_z"].max()))))
    ax.set_title(title, fontsize=FONT)
    if legend:
        ax.legend(fontsize=FONT, loc="upper right", frameon=False)


def plot_state(state: dict, axes=None, title: str | None = None):
    """Two panels for a 1-D ``surgery_state``: q(z) (with its N scaled components) against p(z), and the
    stacked terms. Returns the Figure."""
    if "z" not in state:
        raise ValueError("plot_state draws 1-D states only (dim=1).")
    if axes is None:
        _, axes = new_figure(8.0, 3.4, 1, 2, gridspec_kw={"width_ratios": [1.6, 0.5]}, layout="constrained")
    _draw_density(axes[0], state, title or f"width {state['width']:.3g}, spacing {state['spacing']:.3g}, "
                  f"N = {state['n_components']}", legend=True)   # .3g: as the explorer's sliders read
    axes[0].set_ylabel("density")
    plot_terms({f"I = {_r(state['mutual_info'])}\nlog N = {_r(state['log_n'])}": state}, axes[1], legend=False)
    fig = axes[0].figure
    fig.legend(*axes[1].get_legend_handles_labels(), loc="outside right center", fontsize=FONT, frameon=False)
    return finish(fig)


def plot_surgery_presets(presets: dict[str, dict] | None = None):
    """The explorer's static figure: top, q(z) against p(z) of each preset (``SURGERY_PRESETS`` unless
    told); below, their three terms stacked down to the ELBO. Returns the Figure."""
    presets = SURGERY_PRESETS if presets is None else presets
    states = {name: surgery_state(**kw) for name, kw in presets.items()}
    fig, axes = new_figure(8.0, 4.0, mosaic=[list(states), ["terms"] * len(states)], layout="constrained",
                           height_ratios=[1, 1.4])
    for col, (name, s) in enumerate(states.items()):
        _draw_density(axes[name], s, _wrap(name, 16), legend=False)
        axes[name].set_yticks([])
    axes[next(iter(states))].set_ylabel("density")
    plot_terms(states, axes["terms"], legend=True, wrap=16)
    fig.suptitle("Narrow encoders reconstruct well but pay log N in ②; only the prior q(z) removes ③")
    return finish(fig)


def surgery_explorer():
    """Sliders (encoder width, spacing, N) and a prior switch redrawing ``plot_state`` (ipywidgets).

    Returns and displays VBox([HBox([width, spacing]), HBox([N, prior]), output]) through
    ``figures.explorer`` (its stored output also carries a picture of the starting state).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    width = widgets.FloatLogSlider(value=0.5, base=10, min=-2, max=0.5, step=0.05, description="width σ")
    spacing = widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1, description="spacing", readout_format=".3g")
    count = widgets.IntSlider(value=8, min=1, max=32, description="N")
    prior = widgets.ToggleButtons(options=[("N(0, 1)", "standard"), ("fitted", "fitted"), ("q(z)", "aggregate")],
                                  description="prior p(z)")
    out = widgets.Output()

    def redraw(*_):
        with out:
            out.clear_output(wait=True)
            plot_state(surgery_state(width.value, spacing.value, count.value, prior.value))
            plt.show()

    for w in (width, spacing, count, prior):
        w.observe(redraw, names="value")
    redraw()
    picture = plot_state(surgery_state(width.value, spacing.value, count.value, prior.value))  # without a kernel
    box = explorer([widgets.HBox([width, spacing]), widgets.HBox([count, prior]), out], picture)
    display(box)
    return box


def plot_mi_sweeps(widths: list[float], sweep: dict[str, list[float]], path: list[float],
                   collapse: list[tuple[float, float, float]], log_n: dict[str, int]):
    """Left: I(n; z) against the encoder width for each toy in ``sweep`` (name -> values), with its log N
    (``log_n``: name -> N). Right: I and the marginal KL along the collapse path t (``collapse``: rows
    (I, marginal KL, ...)). Returns the Figure."""
    fig, axes = new_figure(8.0, 3.4, 1, 2, layout="constrained")
    for name, values in sweep.items():
        line, = axes[0].semilogx(widths, values, "o-", ms=4, label=f"I(n; z), {name}")
        axes[0].axhline(math.log(log_n[name]), color=line.get_color(), ls="--", lw=1, label=f"log {log_n[name]}")
    axes[0].axhline(0.0, color="black", lw=0.8)
    axes[0].set(xlabel="encoder width σ (log scale)", ylabel="nats", title="narrow encoders: I → log N")
    axes[0].legend(fontsize=FONT, frameon=False)
    for k, label in enumerate(["I(n; z)", "KL(q(z) ‖ p(z))"]):
        axes[1].plot(path, [c[k] for c in collapse], "o-", ms=4, label=label)
    n_1d = next(iter(log_n.values()))
    axes[1].axhline(math.log(n_1d), color=COLORS["prior"], ls="--", lw=1, label=f"log {n_1d}")
    axes[1].set(xlabel="t (0: the toy, 1: every encoder = N(0, 1))", ylabel="nats",
                title="collapse onto the prior: I → 0")
    axes[1].legend(fontsize=FONT, frameon=False)
    return finish(fig)


def plot_prior_comparison(states: dict[str, dict], scales: list[float], scan: list[float], fitted_std: float):
    """Left: q(z) of one 1-D toy and the priors of ``states`` (label -> ``surgery_state``, same encoder).
    Middle: their stacked terms. Right: the ELBO under N(0, s²) priors (``scan``: marginal KL per scale s)
    against the ELBO with p(z) = q(z). Returns the Figure."""
    fig, axes = new_figure(8.0, 3.8, 1, 3, layout="constrained", gridspec_kw={"width_ratios": [1.3, 1.1, 1]})
    first = next(iter(states.values()))
    axes[0].plot(first["z"], first["q_z"], color="black", lw=2.5, label="q(z)")
    for (label, s), style in zip(states.items(), ["--", "-.", ":"]):
        axes[0].plot(s["z"], s["p_z"], ls=style, lw=1.5, label=f"p(z) = {label}")
    axes[0].set(xlabel="z", ylabel="density", title="q(z) and three priors")
    axes[0].legend(fontsize=FONT, frameon=False, loc="upper left")
    plot_terms(states, axes[1], legend=False, wrap=9, prefix="").set_title("only ③ changes")
    fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncol=5, fontsize=FONT,
               frameon=False)
    best = first["avg_recon"] - first["mutual_info"]
    axes[2].plot(scales, [best - v for v in scan], label="p = N(0, s²)")
    axes[2].axhline(best, color="black", ls="--", label="p = q(z): ① − ②")
    axes[2].axvline(fitted_std, color=COLORS["prior"], lw=0.8, label="fitted s")
    axes[2].set(xlabel="prior scale s", ylabel="ELBO (nats)", title="no Gaussian reaches q(z)")
    axes[2].legend(fontsize=FONT, frameon=False, loc="lower right")
    return finish(fig)
