"""Widget callbacks and static figures for lessons 01 (Jensen and the ELBO) and 02 (three readings).

Every widget is a thin ipywidgets shell around a plain function that a test can call:

    elbo_explorer_state(q_mean, q_std, x)  -> dict of floats (float64 maths on the linear-Gaussian toy
                                              z ~ N(0, 1), x | z ~ N(z, 1), via ``toy.LinearGaussian``)
        log_evidence = log p(x),  elbo = ELBO(q),  gap = log p(x) - ELBO(q),  kl = KL(q ‖ p(z|x)),
        posterior_mean, posterior_std, q_mean, q_std
    plot_elbo_state(state, axes)            two panels: the densities p(z|x), q(z) and the nats scale
    plot_presets(x)                         the "poor / better / exact" presets side by side (static)
    elbo_explorer(x)                        sliders for q's mean and std + preset buttons (needs ipywidgets)

Jensen helpers:  jensen_gap_mc(w) = log mean(w) - mean(log w) with a delta-method standard error
                 sqrt(Var(w / mean(w) - log w) / M) for M draws w of shape (M,);
                 plot_jensen(...) draws the chord picture and the gap against the coefficient of variation.
Lesson 02:       mc_elbo_dataset(...) the doubly stochastic estimators of the data-set ELBO (n and z
                 sampled) and plot_readings / plot_mc_convergence.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .bounds import mean_and_se
from .toy import LinearGaussian

__all__ = ["PRESETS", "preset", "elbo_explorer_state", "plot_elbo_state", "plot_presets", "elbo_explorer",
           "jensen_gap_mc", "plot_jensen", "mc_elbo_dataset", "plot_readings", "plot_mc_convergence"]

# Presets relative to the exact posterior N(m*, v*): (shift of the mean, standard deviation or None = exact).
PRESETS: dict[str, tuple[float, float | None]] = {"poor": (-1.5, 1.5), "better": (-0.3, 0.9), "exact": (0.0, None)}
Q_COLOR, POST_COLOR, GAP_COLOR = "tab:blue", "black", "tab:red"


def preset(name: str, x: float = 1.0) -> tuple[float, float]:
    """(q_mean, q_std) of a preset ("poor", "better", "exact") for the toy at observation ``x``."""
    if name not in PRESETS:
        raise KeyError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    m_star, v_star = (float(t) for t in LinearGaussian().posterior(x))
    shift, std = PRESETS[name]
    return m_star + shift, math.sqrt(v_star) if std is None else std


def elbo_explorer_state(q_mean: float, q_std: float, x: float = 1.0) -> dict[str, float]:
    """Exact numbers for q(z|x) = N(q_mean, q_std²) on the toy z ~ N(0,1), x|z ~ N(z,1) (float64).

    gap = log p(x) - ELBO(q) is computed from the two closed forms; kl = KL(q ‖ p(z|x)) from the KL
    formula, so ``gap - kl`` is a genuine check (≈ 1e-16). Raises ValueError for q_std <= 0.
    """
    if not q_std > 0:
        raise ValueError(f"q_std must be a positive standard deviation, got {q_std}.")
    toy = LinearGaussian()
    log_px = float(toy.log_evidence(x))
    elbo = float(toy.elbo(x, q_mean, q_std**2))
    m_star, v_star = toy.posterior(x)
    return {"x": float(x), "q_mean": float(q_mean), "q_std": float(q_std),
            "posterior_mean": float(m_star), "posterior_std": math.sqrt(float(v_star)),
            "log_evidence": log_px, "elbo": elbo, "gap": log_px - elbo,
            "kl": float(toy.kl_to_posterior(x, q_mean, q_std**2))}


def _normal_pdf(z: Tensor, mean: float, std: float) -> Tensor:
    return torch.exp(-0.5 * ((z - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def plot_elbo_state(state: dict[str, float], axes=None, title: str | None = None):
    """Left: p(z|x) and q(z|x) against z. Right: log p(x), the ELBO and the gap on one nats scale."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8.5, 3.2), gridspec_kw={"width_ratios": [2.2, 1]})
    ax_d, ax_n = axes
    z = torch.linspace(-4.0, 4.0, 801, dtype=torch.float64)
    ax_d.plot(z, _normal_pdf(z, state["posterior_mean"], state["posterior_std"]), color=POST_COLOR,
              label="posterior p(z | x)")
    ax_d.plot(z, _normal_pdf(z, state["q_mean"], state["q_std"]), color=Q_COLOR, ls="--", label="q(z | x)")
    ax_d.fill_between(z, _normal_pdf(z, state["q_mean"], state["q_std"]), color=Q_COLOR, alpha=0.15)
    ax_d.set(xlabel="z", ylabel="density", ylim=(0, 1.05), title=title or f"x = {state['x']:g}")
    ax_d.legend(loc="upper left", fontsize=8, frameon=False)
    top, elbo = state["log_evidence"], state["elbo"]
    low = top - 4.0
    shown = max(elbo, low + 0.05)  # an ELBO below the scale is drawn at its bottom edge, dashed
    ax_n.axhspan(shown, top, xmax=0.45, color=GAP_COLOR, alpha=0.3, label="gap = KL(q ‖ p(z|x))")
    ax_n.axhline(top, xmax=0.45, color=POST_COLOR, lw=3.5, label=f"log p(x) = {top:.3f}")
    ax_n.axhline(shown, xmax=0.45, color=Q_COLOR, lw=2, ls=":" if elbo < low else "--",
                 label=f"ELBO = {elbo:.3f}" + (" (off scale)" if elbo < low else ""))
    ax_n.legend(loc="center right", fontsize=7, frameon=False)
    ax_n.set(ylim=(low, top + 0.5), xticks=[], ylabel="nats", title=f"gap = KL = {abs(state['gap']):.3f} nats")
    return ax_d.figure


def plot_presets(x: float = 1.0):
    """The three presets side by side (2 rows: densities, nats scale); returns the Figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(10, 5.2), gridspec_kw={"height_ratios": [1.3, 1]})
    for col, name in enumerate(PRESETS):
        state = elbo_explorer_state(*preset(name, x), x=x)
        plot_elbo_state(state, axes=(axes[0, col], axes[1, col]),
                        title=f"{name}: q = N({state['q_mean']:.2f}, {state['q_std']:.2f}²)")
        if col:
            axes[0, col].set_ylabel("")
            axes[1, col].set_ylabel("")
    fig.suptitle(f"Moving q towards the posterior closes the gap (x = {x:g})", fontsize=11)
    fig.tight_layout()
    return fig


def elbo_explorer(x: float = 1.0):
    """Sliders for q's mean and standard deviation plus "poor / better / exact" buttons (ipywidgets)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    mean = widgets.FloatSlider(value=preset("poor", x)[0], min=-3.0, max=3.0, step=0.05, description="q mean")
    std = widgets.FloatSlider(value=preset("poor", x)[1], min=0.1, max=2.5, step=0.01, description="q std")
    out = widgets.Output()

    def redraw(*_):
        with out:
            out.clear_output(wait=True)
            plot_elbo_state(elbo_explorer_state(mean.value, std.value, x))
            plt.show()

    def chooser(name):
        def choose(_):
            with mean.hold_trait_notifications(), std.hold_trait_notifications():
                mean.value, std.value = preset(name, x)
        return choose

    buttons = []
    for name in PRESETS:
        button = widgets.Button(description=name)
        button.on_click(chooser(name))
        buttons.append(button)
    mean.observe(redraw, names="value")
    std.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([mean, std]), widgets.HBox(buttons), out])


def jensen_gap_mc(w: Tensor) -> tuple[float, float]:
    """Plug-in Jensen gap log(mean w) - mean(log w) of draws w (M,) > 0, with a delta-method std. error.

    Linearizing around (E W, E log W): gap_hat - gap ≈ mean(W/E W - log W) - (1 - E log W), so the
    standard error is std(w / mean(w) - log w) / sqrt(M). Returns (gap, se) as floats.
    """
    w = torch.as_tensor(w, dtype=torch.float64)
    if w.dim() != 1 or (w <= 0).any():
        raise ValueError("jensen_gap_mc expects a 1-D tensor of positive draws of W.")
    gap = math.log(float(w.mean())) - float(torch.log(w).mean())
    return gap, float(mean_and_se(w / w.mean() - torch.log(w))[1])


def plot_jensen(a: float = 0.5, b: float = 4.0, p: float = 0.6):
    """Left: log w with the chord between (a, log a) and (b, log b) for W = a w.p. p, else b.
    Right: the exact Jensen gap of log-normal and gamma W against the coefficient of variation of W."""
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    w = torch.linspace(0.25, 5.0, 400, dtype=torch.float64)
    mean_w, mean_log = p * a + (1 - p) * b, p * math.log(a) + (1 - p) * math.log(b)
    ax.plot(w, torch.log(w), color=POST_COLOR, label="log w  (concave)")
    ax.plot([a, b], [math.log(a), math.log(b)], color=Q_COLOR, marker="o", label="chord between the two values")
    ax.plot([mean_w], [mean_log], "o", color=Q_COLOR, mfc="white")
    ax.plot([mean_w], [math.log(mean_w)], "o", color=POST_COLOR)
    ax.vlines(mean_w, mean_log, math.log(mean_w), color=GAP_COLOR, lw=3, label="Jensen gap")
    ax.annotate("log E[W]  (on the curve)", (mean_w, math.log(mean_w)), xytext=(2.4, 0.2), fontsize=9,
                arrowprops={"arrowstyle": "->", "color": "grey"})
    ax.annotate("E[log W]  (on the chord)", (mean_w, mean_log), xytext=(2.4, -0.5), fontsize=9, color=Q_COLOR,
                arrowprops={"arrowstyle": "->", "color": Q_COLOR})
    ax.axvline(mean_w, color="grey", lw=0.6, ls=":")
    ax.text(mean_w, -1.45, " w = E[W]", fontsize=8, color="grey")
    ax.set(xlabel="w", ylabel="log w (nats)", title=f"W = {a:g} w.p. {p:g}, {b:g} w.p. {1 - p:g}")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    sigma = torch.linspace(0.02, 1.0, 200, dtype=torch.float64)
    k = torch.logspace(-0.3, 3, 200, dtype=torch.float64)
    ax2.plot(torch.sqrt(torch.expm1(sigma**2)), sigma**2 / 2, label="log-normal: σ²/2")
    ax2.plot(k.rsqrt(), torch.log(k) - torch.special.digamma(k), label="gamma: log k − ψ(k)")
    cv = torch.linspace(0, 1.3, 50, dtype=torch.float64)
    ax2.plot(cv, cv**2 / 2, ":", color="grey", label="CV²/2 (small-spread limit)")
    ax2.set(xlim=(0, 1.3), ylim=(0, 0.75), xlabel="coefficient of variation of W = sd(W) / E[W]",
            ylabel="log E[W] − E[log W] (nats)", title="the gap grows with the spread of W")
    ax2.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def mc_elbo_dataset(toy: LinearGaussian, x: Tensor, enc: tuple[float, float, float], m: int,
                    generator: torch.Generator) -> dict[str, tuple[float, float]]:
    """Doubly stochastic estimates of the data-set ELBO (1/N) Σ_n ELBO_n, each as (mean, se) over M draws.

    Encoder q(z | x_n) = N(a x_n + b, s²) with enc = (a, b, s); x of shape (N,). Each draw picks
    n ~ Uniform{1..N} and z = a x_n + b + s ε. Two unbiased integrands:
      "full_mc":   log p(x_n, z) - log q(z | x_n)                 (every term sampled)
      "closed_kl": log p(x_n | z) - KL(q(z | x_n) ‖ p(z))          (the KL in closed form)
    """
    a, b, s = enc
    n = torch.randint(len(x), (m,), generator=generator)
    eps = torch.randn(m, generator=generator, dtype=torch.float64)
    xn = x[n]
    mu = a * xn + b
    z = mu + s * eps
    log_q = -0.5 * (math.log(2 * math.pi * s * s) + eps**2)
    full = toy.log_joint(xn, z) - log_q
    closed = toy.log_likelihood(xn, z) - toy.kl_to_prior(mu, s * s)
    return {"full_mc": tuple(float(t) for t in mean_and_se(full)),
            "closed_kl": tuple(float(t) for t in mean_and_se(closed))}


def plot_readings(terms: dict[str, tuple[str, float, str, float]], elbo: float):
    """One panel per reading: its two terms as bars (nats) and the sum, with the common ELBO as a line.

    ``terms`` maps a reading's title to (label1, value1, label2, value2); the reading is value1 + value2.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(terms), figsize=(10.5, 3.3), sharey=True)
    for ax, (title, (l1, v1, l2, v2)) in zip(axes, terms.items()):
        ax.bar([0, 1, 2], [v1, v2, v1 + v2], color=["tab:grey", "tab:orange", Q_COLOR])
        ax.axhline(elbo, color=GAP_COLOR, ls=":", lw=1.5, label=f"ELBO = {elbo:.3f} (same in every panel)")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xticks([0, 1, 2], [l1, l2, "sum"], fontsize=8)
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("nats")
    axes[0].legend(loc="lower left", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_mc_convergence(rows: list[dict], exact: float):
    """Left: estimates ± 2 se against M (log x) with the exact ELBO. Right: se and |error| against M,
    log-log, with a c/sqrt(M) reference line. ``rows``: dicts with m, and (mean, se) per estimator key."""
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.5, 3.6))
    ms = torch.tensor([r["m"] for r in rows], dtype=torch.float64)
    for key, color, shift in (("full_mc", Q_COLOR, 0.94), ("closed_kl", "tab:orange", 1.06)):
        mean = [r[key][0] for r in rows]
        se = torch.tensor([r[key][1] for r in rows])
        ax.errorbar(ms * shift, mean, yerr=2 * se, fmt="o", color=color, capsize=3, label=f"{key} ± 2 se")
        ax2.loglog(ms, se, "-o", color=color, label=f"{key}: standard error")
        ax2.loglog(ms, [abs(m_ - exact) for m_ in mean], "x", color=color, label=f"{key}: |estimate − exact|")
    ax.axhline(exact, color="black", lw=1, label="exact ELBO")
    ax.set(xscale="log", xlabel="Monte Carlo samples M", ylabel="nats per data point", title="estimates")
    ax.legend(fontsize=8, frameon=False)
    c = rows[0]["full_mc"][1] * math.sqrt(rows[0]["m"])
    ax2.loglog(ms, c / ms.sqrt(), ":", color="grey", label="∝ 1/√M")
    ax2.set(xlabel="Monte Carlo samples M", ylabel="nats", title="error bars shrink like 1/√M")
    ax2.legend(fontsize=7, frameon=False, ncol=2)
    fig.tight_layout()
    return fig
