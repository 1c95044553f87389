"""Lesson 01 (Jensen and the ELBO): Jensen's chord, the ELBO explorer and its static presets.

The explorer works on the toy z ~ N(0, 1), x | z ~ N(z, 1) with q(z | x) = N(q_mean, q_std²); its
callback is ``toys.linear_gaussian.elbo_explorer_state`` (a plain function), its view ``plot_elbo_state``.

    Q_PRESETS            name -> (shift of q's mean from the posterior mean, q's std or None = exact)
    q_preset(name, x)    (q_mean, q_std) of a preset at observation x
    plot_elbo_state      densities p(z|x), q(z|x) and the nats scale log p(x) / ELBO / gap of one q
    plot_q_presets(x)    the static figure of the explorer: the presets side by side
    elbo_explorer(x)     sliders for q's mean and std plus preset buttons (ipywidgets)
    plot_jensen(a, b, p) the chord picture of a two-point W and the gap against W's spread
"""
from __future__ import annotations

import math

import torch

from ..toys.linear_gaussian import LinearGaussian, elbo_explorer_state
from . import COLORS, FONT, explorer, finish, new_figure

__all__ = ["Q_PRESETS", "q_preset", "plot_elbo_state", "plot_q_presets", "elbo_explorer", "plot_jensen"]

# q relative to the exact posterior N(m*, v*): (shift of the mean, standard deviation or None = exact).
Q_PRESETS: dict[str, tuple[float, float | None]] = {"poor": (-1.5, 1.5), "better": (-0.3, 0.9), "exact": (0.0, None)}


def q_preset(name: str, x: float = 1.0) -> tuple[float, float]:
    """(q_mean, q_std) of a preset in ``Q_PRESETS`` ("poor", "better", "exact") at observation ``x``."""
    if name not in Q_PRESETS:
        raise KeyError(f"Unknown preset {name!r}; choose one of {', '.join(Q_PRESETS)}.")
    m_star, v_star = (float(t) for t in LinearGaussian().posterior(x))
    shift, std = Q_PRESETS[name]
    return m_star + shift, math.sqrt(v_star) if std is None else std


def _normal_pdf(z: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """N(z; mean, std²) for drawing (float64 grid z)."""
    return torch.exp(-0.5 * ((z - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def _draw_densities(ax, state: dict[str, float], title: str) -> None:
    z = torch.linspace(-4.0, 4.0, 801, dtype=torch.float64)
    q = _normal_pdf(z, state["q_mean"], state["q_std"])
    ax.plot(z, _normal_pdf(z, state["posterior_mean"], state["posterior_std"]), color=COLORS["posterior"],
            label="posterior p(z | x)")
    ax.plot(z, q, color=COLORS["q"], ls="--", label="q(z | x)")
    ax.fill_between(z, q, color=COLORS["q"], alpha=0.15)
    ax.set(xlabel="z", ylabel="density", ylim=(0, 1.05), title=title)


def plot_elbo_state(state: dict[str, float], axes=None, title: str | None = None):
    """Left: p(z|x) and q(z|x) against z. Right: log p(x), the ELBO and the gap on one nats scale.

    ``state`` is an ``elbo_explorer_state`` dict; returns the Figure.
    """
    if axes is None:
        _, axes = new_figure(8.0, 3.2, 1, 2, gridspec_kw={"width_ratios": [2.0, 1]}, layout="constrained")
    ax_d, ax_n = axes
    _draw_densities(ax_d, state, "")
    # The legend sits in a row of its own between the title and the panel, outside the data area, so that
    # no setting of the sliders can put a curve, the shaded gap or a label under it.
    ax_d.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, fontsize=FONT, frameon=False,
                borderaxespad=0.1, handlelength=2.5)
    ax_d.set_title(title or f"x = {state['x']:g}: q(z | x) against the exact posterior", pad=2.5 * FONT)
    top, elbo = state["log_evidence"], state["elbo"]
    low = top - 4.0
    shown = max(elbo, low + 0.05)  # an ELBO below the scale is drawn at its bottom edge, dotted
    ax_n.axhspan(shown, top, xmax=0.35, color=COLORS["gap"], alpha=0.3)
    ax_n.axhline(top, xmax=0.35, color=COLORS["posterior"], lw=3.5)
    ax_n.axhline(shown, xmax=0.35, color=COLORS["q"], lw=2, ls=":" if elbo < low else "--")
    at_right = ax_n.get_yaxis_transform()  # x in axes fractions, y in nats
    ax_n.text(0.38, top, f"log p(x) {top:.3f}", transform=at_right, va="bottom", fontsize=FONT)
    ax_n.text(0.38, shown, f"ELBO {elbo:.3f}" + (" (below)" if elbo < low else ""), transform=at_right,
              va="bottom" if elbo < low else "top", fontsize=FONT, color=COLORS["q"])  # inside the panel
    if top - shown > 0.6:
        ax_n.text(0.175, (top + shown) / 2, "gap", transform=at_right, ha="center", va="center", fontsize=FONT)
    ax_n.set(ylim=(low, top + 0.5), xticks=[], ylabel="nats", title=f"gap = KL = {abs(state['gap']):.3f} nats")
    return finish(ax_d.figure)


def plot_q_presets(x: float = 1.0):
    """The explorer's static figure: top, each preset's q against p(z|x); below, the ELBO of each preset
    under the common log p(x), the gap shaded. Returns the Figure."""
    states = {name: elbo_explorer_state(*q_preset(name, x), x=x) for name in Q_PRESETS}
    fig, axes = new_figure(8.0, 4.0, mosaic=[list(states), ["gaps"] * len(states)], layout="constrained",
                           height_ratios=[1.2, 1])
    for col, (name, st) in enumerate(states.items()):
        _draw_densities(axes[name], st, f"{name}: N({st['q_mean']:.2f}, {st['q_std']:.2f}²)")
        axes[name].title.set_fontsize(FONT)
        if col:
            axes[name].set_ylabel("")
    axes["poor"].legend(loc="upper left", fontsize=FONT, frameon=False)
    ax = axes["gaps"]
    gaps = [abs(st["gap"]) for st in states.values()]
    ax.bar(range(len(states)), gaps, width=0.5, color=COLORS["gap"], alpha=0.5)
    for i, st in enumerate(states.values()):
        ax.annotate(f"gap {gaps[i]:.3f}, ELBO {st['elbo']:.3f}", (i, gaps[i]), xytext=(0, 2),
                    textcoords="offset points", ha="center", va="bottom", fontsize=FONT)
    ax.set(xticks=range(len(states)), xticklabels=list(states), ylim=(0, 1.3 * max(gaps)),
           ylabel="KL(q ‖ p(z|x)) (nats)")
    fig.suptitle(f"Moving q towards the posterior closes the gap log p(x) − ELBO "
                 f"(x = {x:g}, log p(x) = {states['exact']['log_evidence']:.3f})")
    return finish(fig)


def elbo_explorer(x: float = 1.0):
    """Sliders for q's mean and standard deviation plus one button per ``Q_PRESETS`` entry (ipywidgets).

    Returns VBox([HBox([mean, std]), HBox(buttons), output]) (through ``figures.explorer``, whose stored
    output also carries a picture of the starting state); each change redraws ``plot_elbo_state``.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    start = q_preset("poor", x)
    mean = widgets.FloatSlider(value=start[0], min=-3.0, max=3.0, step=0.05, description="q mean")
    std = widgets.FloatSlider(value=start[1], min=0.1, max=2.5, step=0.01, description="q std")
    out = widgets.Output()

    def redraw(*_):
        with out:
            out.clear_output(wait=True)
            plot_elbo_state(elbo_explorer_state(mean.value, std.value, x))
            plt.show()

    def chooser(name):
        def choose(_):
            with mean.hold_trait_notifications(), std.hold_trait_notifications():
                mean.value, std.value = q_preset(name, x)
        return choose

    buttons = []
    for name in Q_PRESETS:
        button = widgets.Button(description=name)
        button.on_click(chooser(name))
        buttons.append(button)
    mean.observe(redraw, names="value")
    std.observe(redraw, names="value")
    redraw()
    picture = plot_elbo_state(elbo_explorer_state(mean.value, std.value, x))  # shown without a kernel
    return explorer([widgets.HBox([mean, std]), widgets.HBox(buttons), out], picture)


def plot_jensen(a: float = 0.5, b: float = 4.0, p: float = 0.6):
    """Left: log w with the chord between (a, log a) and (b, log b) for W = a w.p. p, else b.
    Right: the exact Jensen gap of log-normal and gamma W against the coefficient of variation of W."""
    fig, (ax, ax2) = new_figure(8.0, 3.6, 1, 2, layout="constrained")
    w = torch.linspace(0.25, 5.0, 400, dtype=torch.float64)
    mean_w, mean_log = p * a + (1 - p) * b, p * math.log(a) + (1 - p) * math.log(b)
    ax.plot(w, torch.log(w), color=COLORS["posterior"], label="log w  (concave)")
    ax.plot([a, b], [math.log(a), math.log(b)], color=COLORS["q"], marker="o", label="chord")
    ax.plot([mean_w], [mean_log], "o", color=COLORS["q"], mfc="white")
    ax.plot([mean_w], [math.log(mean_w)], "o", color=COLORS["posterior"])
    ax.vlines(mean_w, mean_log, math.log(mean_w), color=COLORS["gap"], lw=3, label="Jensen gap")
    ax.annotate("log E[W]", (mean_w, math.log(mean_w)), xytext=(2.9, 0.35), fontsize=FONT,
                arrowprops={"arrowstyle": "->", "color": "grey"})
    ax.annotate("E[log W]", (mean_w, mean_log), xytext=(2.9, -0.55), fontsize=FONT, color=COLORS["q"],
                arrowprops={"arrowstyle": "->", "color": COLORS["q"]})
    ax.axvline(mean_w, color="grey", lw=0.6, ls=":")
    ax.set(xlabel="w", ylabel="log w (nats)", title=f"W = {a:g} w.p. {p:g}, else {b:g}")
    ax.legend(loc="upper left", fontsize=FONT, frameon=False)
    sigma = torch.linspace(0.02, 1.0, 200, dtype=torch.float64)
    k = torch.logspace(-0.3, 3, 200, dtype=torch.float64)
    ax2.plot(torch.sqrt(torch.expm1(sigma**2)), sigma**2 / 2, label="log-normal: σ²/2")
    ax2.plot(k.rsqrt(), torch.log(k) - torch.special.digamma(k), label="gamma: log k − ψ(k)")
    cv = torch.linspace(0, 1.3, 50, dtype=torch.float64)
    ax2.plot(cv, cv**2 / 2, ":", color="grey", label="CV²/2 (small spread)")
    ax2.set(xlim=(0, 1.3), ylim=(0, 0.75), xlabel="coefficient of variation sd(W) / E[W]",
            ylabel="log E[W] − E[log W] (nats)", title="the gap grows with the spread of W")
    ax2.legend(fontsize=FONT, frameon=False)
    return finish(fig)
