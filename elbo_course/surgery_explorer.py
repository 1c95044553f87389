"""Lesson 05 (ELBO surgery): the toy with a decoder, its three-term ELBO, and the explorer widget.

The toy (float64 throughout). N data points x_n in R^d on a line (d = 1) or a lattice (d = 2),
``spacing`` apart and centred on 0 (``toy.evenly_spaced``); the encoder puts q(z | x_n) = N(x_n, width² I)
(its mean is the point itself); the decoder is linear-Gaussian, p(x | z) = N(x; z, tau² I) with
tau = ``decoder_std`` (0.5 unless told). Then every term is exact:

    avg_recon     = (1/N) Σ_n E_q(z|x_n) log N(x_n; z, tau² I)
                  = -d/2 log(2π tau²) - (1/N) Σ_n (‖x_n - mu_n‖² + Σ_i sigma_ni²) / (2 tau²)
    mutual_info   = log N - E_q(z) H[q(n | z)]                        (quadrature, ``toy.GaussianMixtureToy``)
    marginal_kl   = KL(q(z) ‖ p(z))                                    (quadrature)
    elbo          = avg_recon - mutual_info - marginal_kl
    log_evidence  = (1/N) Σ_n log p(x_n),  p(x) = (1/C) Σ_c N(x; m_c, (s_c² + tau²) I)  ≥ elbo

Priors are equal-weight Gaussian mixtures given by (means (C, d), logvar (C, d)):
    "standard"   N(0, I)                                          (C = 1)
    "fitted"     the moment-matched Gaussian N(m, diag v): m = mean_n mu_n, v = mean_n [sigma_n² + (mu_n - m)²]
                 (the Gaussian p minimizing KL(q(z) ‖ p))         (C = 1)
    "aggregate"  q(z) itself, (1/N) Σ_n N(mu_n, sigma_n²)           (C = N; then marginal_kl = 0)

``surgery_state`` is the plain callback of the widget (a test calls it); ``plot_state`` draws one state,
``plot_terms`` the stacked bars of several, ``plot_presets`` the static figure of ``PRESETS`` and
``surgery_explorer`` wraps it all in ipywidgets sliders.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from .distributions import LOG_2PI
from .surgery import aggregate_log_density
from .toy import GaussianMixtureToy, evenly_spaced

__all__ = ["DECODER_STD", "PRIORS", "PRESETS", "prior_components", "mixture_log_prior", "average_reconstruction",
           "average_log_evidence", "surgery_state", "plot_toy", "plot_terms", "plot_state", "plot_presets", "surgery_explorer"]

DECODER_STD = 0.5
PRIORS = ("standard", "fitted", "aggregate")
PRIOR_LABELS = {"standard": "N(0, 1)", "fitted": "fitted Gaussian", "aggregate": "q(z) itself"}
TERM_COLORS = {"recon": "tab:blue", "mi": "tab:orange", "mkl": "tab:red"}
# name -> keyword arguments of surgery_state (1-D, N = 8 unless told)
PRESETS: dict[str, dict] = {
    "wide, overlapping encoders": dict(width=1.0, spacing=0.2, n_components=8, prior="standard"),
    "medium encoders": dict(width=0.5, spacing=1.0, n_components=8, prior="standard"),
    "narrow encoders, N(0,1) prior": dict(width=0.1, spacing=1.0, n_components=8, prior="standard"),
    "narrow encoders, prior = q(z)": dict(width=0.1, spacing=1.0, n_components=8, prior="aggregate"),
}


def _r(value: float) -> str:
    """Two decimals without a '-0.00'."""
    return f"{round(value, 2) + 0.0:.2f}"


def prior_components(kind: str, mu: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
    """(means (C, d), logvar (C, d)) float64 of the prior ``kind`` for encoders mu, sigma (N, d); see module doc."""
    mu, sigma = mu.double(), sigma.double().expand_as(mu)
    if kind == "standard":
        return torch.zeros_like(mu[:1]), torch.zeros_like(mu[:1])
    if kind == "fitted":
        m = mu.mean(0, keepdim=True)
        v = (sigma.pow(2) + (mu - m).pow(2)).mean(0, keepdim=True)
        return m, v.log()
    if kind == "aggregate":
        return mu.clone(), 2.0 * sigma.log()
    raise ValueError(f"Unknown prior {kind!r}; choose one of {', '.join(PRIORS)}.")


def mixture_log_prior(means: Tensor, logvar: Tensor) -> Callable[[Tensor], Tensor]:
    """z (G, d) -> log (1/C) Σ_c N(z; m_c, diag exp(logvar_c)), shape (G,) float64."""
    return lambda z: aggregate_log_density(z.double(), means, logvar)


def average_reconstruction(x: Tensor, mu: Tensor, sigma: Tensor, decoder_std: float = DECODER_STD) -> float:
    """(1/N) Σ_n E_N(z; mu_n, sigma_n²) log N(x_n; z, tau² I); x, mu, sigma (N, d) (sigma may broadcast)."""
    x, mu = x.double(), mu.double()
    sigma = sigma.double().expand_as(mu)
    tau2, d = decoder_std**2, x.shape[1]
    sq = ((x - mu).pow(2) + sigma.pow(2)).sum(1)
    return float(-0.5 * d * (LOG_2PI + math.log(tau2)) - sq.mean() / (2.0 * tau2))


def average_log_evidence(x: Tensor, means: Tensor, logvar: Tensor, decoder_std: float = DECODER_STD) -> float:
    """(1/N) Σ_n log p(x_n) with p(z) the mixture (means, logvar) and p(x|z) = N(z, tau² I): exact."""
    widened = torch.log(logvar.double().exp() + decoder_std**2)
    return float(aggregate_log_density(x.double(), means.double(), widened).mean())


def surgery_state(width: float = 0.5, spacing: float = 1.0, n_components: int = 8, prior: str = "standard",
                  dim: int = 1, decoder_std: float = DECODER_STD) -> dict:
    """Every number and curve of one explorer setting (the widget callback; float64, no sampling).

    Returns floats avg_recon, avg_kl, mutual_info, marginal_kl, elbo, log_evidence, log_n, the settings,
    and for d = 1 the plotting arrays z (P,), q_z (P,), p_z (P,), components (N, P) = q(z | x_n) / N.
    """
    if not width > 0 or spacing < 0 or n_components < 1:
        raise ValueError("need width > 0, spacing >= 0 and n_components >= 1.")
    toy0 = evenly_spaced(n_components, spacing, width, dim)
    means, logvar = prior_components(prior, toy0.mu, toy0.sigma)
    toy = GaussianMixtureToy(toy0.mu, toy0.sigma, log_prior=mixture_log_prior(means, logvar))
    terms = toy.terms()
    x = toy.mu  # the data points: the encoder mean of x_n is x_n itself
    recon = average_reconstruction(x, toy.mu, toy.sigma, decoder_std)
    state = {"width": float(width), "spacing": float(spacing), "n_components": int(n_components), "prior": prior,
             "dim": int(dim), "decoder_std": float(decoder_std), "avg_recon": recon, "avg_kl": terms["avg_kl"],
             "mutual_info": terms["mutual_info"], "marginal_kl": terms["marginal_kl"], "log_n": terms["log_n"],
             "elbo": recon - terms["mutual_info"] - terms["marginal_kl"],
             "log_evidence": average_log_evidence(x, means, logvar, decoder_std)}
    if dim == 1:
        half = max(4.0, float(x.abs().max()) + 4.0 * width)
        z = torch.linspace(-half, half, 801, dtype=torch.float64)[:, None]
        state["z"] = z[:, 0]
        state["components"] = toy.component_log_prob(z).exp() / n_components
        state["q_z"] = toy.log_aggregate(z).exp()
        state["p_z"] = toy.prior_log_prob(z).exp()
    return state


def plot_terms(states: dict[str, dict], ax=None, legend: bool = True):
    """One bar per state stacking avg_recon, -I and -marginal KL from 0 (a waterfall whose end, the black
    tick, is the ELBO); a grey dash marks the exact (1/N) Σ_n log p(x_n) under that state's prior."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3.2))
    for i, (label, s) in enumerate(states.items()):
        parts = [(s["avg_recon"], "recon", "① avg reconstruction"), (-s["mutual_info"], "mi", "② − I(n; z)"),
                 (-s["marginal_kl"], "mkl", "③ − KL(q(z) ‖ p(z))")]
        base = 0.0
        for value, key, name in parts:
            ax.bar(i, value, bottom=base, color=TERM_COLORS[key], width=0.6, label=name if i == 0 else None)
            base += value
        ax.plot([i - 0.35, i + 0.35], [s["elbo"]] * 2, color="black", lw=2.5, label="ELBO" if i == 0 else None)
        ax.plot([i - 0.35, i + 0.35], [s["log_evidence"]] * 2, color="grey", ls="--", lw=1.5,
                label="avg log p(x)" if i == 0 else None)
        ax.annotate(f"ELBO {_r(s['elbo'])}", (i, s["elbo"]), xytext=(0, -5), textcoords="offset points",
                    ha="center", va="top", fontsize=8)
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_xticks(range(len(states)), list(states), fontsize=8)
    ax.set_ylabel("nats per data point")
    ax.set_xlim(-0.6, len(states) - 0.4)
    low = min(min(s["elbo"], s["log_evidence"], s["avg_recon"]) for s in states.values())
    ax.set_ylim(min(1.15 * low, low - 0.3), 0.2)  # room below the lowest bar for its ELBO label
    if legend:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return ax


def plot_state(state: dict, axes=None, title: str | None = None):
    """Two panels for a 1-D state: q(z) (with its N scaled components) against p(z), and the stacked terms."""
    import matplotlib.pyplot as plt

    if "z" not in state:
        raise ValueError("plot_state draws 1-D states only (dim=1).")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [1.7, 0.5]},
                               layout="constrained")
    ax = axes[0]
    z = state["z"].numpy()
    for comp in state["components"]:
        ax.plot(z, comp.numpy(), color="tab:blue", lw=0.6, alpha=0.5)
    ax.plot(z, state["q_z"].numpy(), color="tab:blue", lw=2, label="q(z) (thin: q(z|x_n)/N)")
    ax.plot(z, state["p_z"].numpy(), color="black", ls="--", lw=1.5, label=f"p(z) = {PRIOR_LABELS[state['prior']]}")
    ax.set_xlabel("z")
    ax.set_ylim(0, 1.15 * max(float(state["q_z"].max()), float(state["p_z"].max())))
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(title or f"width {state['width']:g}, spacing {state['spacing']:g}, N = {state['n_components']}",
                 fontsize=9)
    label = f"I = {_r(state['mutual_info'])}, log N = {_r(state['log_n'])}"
    plot_terms({label: state}, axes[1], legend=True)
    return axes


def plot_toy(toy_1d: GaussianMixtureToy, toy_2d: GaussianMixtureToy):
    """Three panels: 1-D q(z|x_n)/N, q(z) and p(z); 1-D q(n|z) stacked over n; 2-D q(z) against p(z)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), layout="constrained")
    half = float(toy_1d.mu.abs().max() + 4 * toy_1d.sigma.max())
    z = torch.linspace(-half, half, 801, dtype=torch.float64)[:, None]
    comps = toy_1d.component_log_prob(z).exp() / toy_1d.n
    for k, comp in enumerate(comps):
        axes[0].plot(z[:, 0], comp, lw=0.8, color=f"C{k % 10}", alpha=0.8)
    axes[0].plot(z[:, 0], toy_1d.log_aggregate(z).exp(), color="black", lw=2, label="q(z)")
    axes[0].plot(z[:, 0], toy_1d.prior_log_prob(z).exp(), color="grey", ls="--", label="p(z) = N(0, 1)")
    axes[0].set(xlabel="z", title=f"1-D: q(z|x_n)/N for N = {toy_1d.n} (colours)", ylabel="density")
    axes[0].legend(fontsize=8)
    axes[1].stackplot(z[:, 0].numpy(), toy_1d.index_posterior(z).exp().numpy(),
                      colors=[f"C{k % 10}" for k in range(toy_1d.n)], alpha=0.8)
    axes[1].set(xlabel="z", ylabel="q(n | z)", title="q(n|z): which data point produced z?", ylim=(0, 1))
    grid = torch.linspace(-3.5, 3.5, 201, dtype=torch.float64)
    zz = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    shape = (grid.numel(), grid.numel())
    axes[2].contourf(grid, grid, toy_2d.log_aggregate(zz).exp().reshape(shape).T, levels=12, cmap="Blues")
    axes[2].contour(grid, grid, toy_2d.prior_log_prob(zz).exp().reshape(shape).T, levels=5, colors="grey",
                    linestyles="--", linewidths=1)
    axes[2].plot(toy_2d.mu[:, 0], toy_2d.mu[:, 1], "k+", ms=7)
    axes[2].set(xlabel="z₁", ylabel="z₂", aspect="equal",
                title=f"2-D: q(z) (filled) vs N(0, I) (dashed), N = {toy_2d.n}")
    return fig


def plot_presets(presets: dict[str, dict] | None = None):
    """The static figure of the explorer: one column per preset, densities on top, terms below."""
    import matplotlib.pyplot as plt

    presets = PRESETS if presets is None else presets
    fig, axes = plt.subplots(2, len(presets), figsize=(3.1 * len(presets), 5.6),
                             gridspec_kw={"height_ratios": [1, 1.25]})
    states = {name: surgery_state(**kw) for name, kw in presets.items()}
    low = min(min(s["elbo"], s["log_evidence"], s["avg_recon"]) for s in states.values())
    for col, (name, s) in enumerate(states.items()):
        plot_state(s, axes[:, col], title=name)
        for ax in axes[:, col]:
            ax.get_legend().remove()
        axes[1, col].set_ylim(1.15 * low, 0.3)
        if col:
            axes[1, col].set_ylabel("")
    handles = [h for ax in axes[:, 0] for h in ax.get_legend_handles_labels()[0]]
    labels = [lab if not lab.startswith("p(z)") else "prior p(z) (see titles)"
              for ax in axes[:, 0] for lab in ax.get_legend_handles_labels()[1]]
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def surgery_explorer():
    """Sliders (encoder width, spacing, N) and a prior switch redrawing ``plot_state`` (needs ipywidgets)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    width = widgets.FloatLogSlider(value=0.5, base=10, min=-2, max=0.5, step=0.05, description="width σ")
    spacing = widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1, description="spacing")
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
    box = widgets.VBox([widgets.HBox([width, spacing]), widgets.HBox([count, prior]), out])
    display(box)
    return box
