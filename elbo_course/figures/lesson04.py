"""Lesson 04 (IWAE): the gap of L_K on the Gaussian toy, the two MNIST models' training and test bounds,
the implicit q_EW with its explorer, and the masses behind the witness ∫ q_EW = 1.

    plot_iwae_gap(ks, table, log_px, rho)   log p(x) − mean of L̂_K against 1/K for each proposal, ±2 se
    plot_training_and_bounds(models)        training loss per epoch, and the test bounds L_K against K (stored)
    qew_panel(K, ...)                       the q_EW explorer's callback: the numbers of ``toys.qew.qew_summary``
                                            for this K (its own generator "04_iwae:qew_panel_K<K>") and,
                                            given ``ax``, SIR draws over the posterior's contours
    QEW_PANEL_KS, plot_qew_panels(ks)       the explorer's static figure: one panel per K
    qew_explorer()                          a slider over K redrawing ``qew_panel`` (ipywidgets)
    plot_qew_masses(masses)                 histogram of the masses ∫ q_IW(z | z_{2:K}) dz of single inner draws,
                                            with their mean ± 2 se against 1
"""
from __future__ import annotations

import numpy as np

from ..runtime import np_rng
from ..toys.qew import DEFAULT_Q, DEFAULT_TOY, GaussianProposal, HyperbolaToy, qew_summary
from . import COLORS, FONT, explorer, finish, new_figure

__all__ = ["plot_iwae_gap", "plot_training_and_bounds", "qew_panel", "QEW_PANEL_KS", "plot_qew_panels",
           "qew_explorer", "plot_qew_masses"]

QEW_PANEL_KS = (1, 2, 5, 50)
_LIM = 3.5


def plot_iwae_gap(ks: list[int], table: dict[str, list[tuple[float, float]]], log_px: float,
                  rho: float | None = None, rho_name: str = "q_A"):
    """Log-log gap log p(x) − mean of L̂_K against 1/K, ±2 se, one line per proposal in ``table``
    (name -> [(mean, se) per K]); with ``rho`` the asymptote ρ / (2K) of ``rho_name``. Returns the Figure."""
    fig, ax = new_figure(6.4, 4.0, layout="constrained")
    inv_k = 1 / np.asarray(ks, dtype=float)
    for (name, rows), color in zip(table.items(), (COLORS["q"], COLORS["gap"], COLORS["third"])):
        gaps = np.array([log_px - float(m) for m, _ in rows])
        ses = np.array([float(s) for _, s in rows])
        ax.errorbar(inv_k, gaps, yerr=2 * ses, fmt="o-", ms=4, color=color, capsize=2,
                    label=f"{name}: log p(x) − mean of L̂_K")
    if rho is not None:
        ax.plot(inv_k, rho / (2 * np.asarray(ks, dtype=float)), "k--", lw=1, label=f"{rho_name}: ρ / (2K)")
    ax.set(xscale="log", yscale="log", xlabel="1 / K", ylabel="gap (nats)",
           title="The IWAE gap closes like 1/K only when ρ is finite")
    ax.legend(fontsize=FONT)
    ax.grid(alpha=0.3, which="both")
    return finish(fig)


def plot_training_and_bounds(models: dict[str, dict], ks: tuple[int, ...] = (1, 5, 50, 5000)):
    """Two panels from the stored results of ``experiments iwae``: each model's training loss (−bound per
    image) against the epoch, and its test bounds L_K (mean ± se over the test images) against K at test time.
    ``models`` maps a model id to its results entry. Returns the Figure."""
    fig, axes = new_figure(8.0, 3.4, 1, 2, layout="constrained")
    for (mid, m), color in zip(models.items(), (COLORS["q"], COLORS["second"], COLORS["third"])):
        axes[0].plot(range(1, m["epochs"] + 1), m["train_loss"], color=color, label=f"{mid} (training loss)")
        axes[1].errorbar(ks, [m["bounds"][str(k)]["mean"] for k in ks], yerr=[m["bounds"][str(k)]["se"] for k in ks],
                         fmt="o-", color=color, capsize=2, label=mid)
    axes[0].set(xlabel="epoch", ylabel="−(bound) per image (nats)", title="training loss: −ELBO vs −L_5")
    axes[1].set(xscale="log", xlabel="K at test time", ylabel="mean of L̂_K (nats)",
                title="test bounds L_K (± se over images)")
    for ax in axes:
        ax.legend(fontsize=FONT)
        ax.grid(alpha=0.3)
    return finish(fig)


def qew_panel(K: int, n_samples: int = 3000, seed: int = 0, ax=None, toy: HyperbolaToy = DEFAULT_TOY,
              q: GaussianProposal = DEFAULT_Q, replicates: int = 20000, inner: int = 1000,
              inner_sets: int = 4) -> dict[str, float]:
    """Widget callback: ``toys.qew.qew_summary`` for this K with the generator np_rng("04_iwae:qew_panel_K<K>",
    seed) (one per K, so no call depends on an earlier one) and, when ``ax`` is given, the SIR draws of q_EW
    (red) over the posterior's contours (black) and q's (blue, dashed).

    Returns {"K", "L_K", "L_K_se", "elbo_qew", "elbo_qew_se", "elbo_q", "log_px", "mass", "same_sign",
    "same_sign_posterior"}.
    """
    K = int(K)
    out, draws = qew_summary(K, np_rng(f"04_iwae:qew_panel_K{K}", seed), toy, q, n_samples, replicates, inner,
                             inner_sets)
    if ax is not None:
        t = np.linspace(-_LIM, _LIM, 141)
        z1, z2 = np.meshgrid(t, t)
        grid = np.stack([z1, z2], -1)
        ax.contour(z1, z2, np.exp(toy.log_posterior(grid)), levels=5, colors="k", linewidths=0.8)
        ax.contour(z1, z2, np.exp(q.log_prob(grid)), levels=3, colors=COLORS["q"], linestyles="--", linewidths=0.8)
        ax.scatter(draws[:, 0], draws[:, 1], s=2, alpha=0.3, color=COLORS["gap"])
        ax.set(xlim=(-_LIM, _LIM), ylim=(-_LIM, _LIM), aspect="equal", xlabel="$z_1$", ylabel="$z_2$")
        ax.set_title(f"K = {K}: L_K {out['L_K']:.3f}\nELBO(q_EW) {out['elbo_qew']:.3f}", fontsize=FONT)
    return out


def plot_qew_panels(ks: tuple[int, ...] = QEW_PANEL_KS, **kwargs) -> tuple[object, list[dict[str, float]]]:
    """The explorer's static figure: ``qew_panel`` for each K side by side; returns (Figure, panel dicts)."""
    fig, axes = new_figure(8.0, 3.0, 1, len(ks), layout="constrained", sharey=True)
    panels = [qew_panel(K, ax=ax, **kwargs) for K, ax in zip(ks, np.atleast_1d(axes))]
    for ax in np.atleast_1d(axes)[1:]:
        ax.set_ylabel("")
    fig.suptitle("SIR draws from q_EW (red) leave q (blue) for the posterior's two lobes as K grows")
    return finish(fig), panels


def qew_explorer(options: tuple[int, ...] = (1, 2, 3, 5, 10, 20, 50, 100), replicates: int = 5000,
                 inner: int = 500):
    """A slider over K redrawing ``qew_panel`` on one square axis (ipywidgets); returns the VBox (through
    ``figures.explorer``, whose stored output also carries a picture of the starting K)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    k_slider = widgets.SelectionSlider(options=list(options), value=5 if 5 in options else options[0],
                                       description="K")
    out = widgets.Output()

    def redraw(*_):
        with out:
            out.clear_output(wait=True)
            _, ax = new_figure(4.0, 4.0)
            qew_panel(k_slider.value, ax=ax, replicates=replicates, inner=inner, inner_sets=1)
            plt.show()

    k_slider.observe(redraw, names="value")
    redraw()
    picture, ax = new_figure(4.0, 4.0)                          # shown without a kernel: the starting K
    qew_panel(k_slider.value, ax=ax, replicates=replicates, inner=inner, inner_sets=1)
    return explorer([k_slider, out], finish(picture))


def plot_qew_masses(masses: np.ndarray):
    """Histogram of the masses m_r = ∫ q_IW(z | z_{2:K}^(r)) dz of single inner draws (``toys.qew.qew_masses``),
    with the line at 1 and the band mean ± 2 se of their average. Returns the Figure."""
    masses = np.asarray(masses, dtype=float)
    mean, se = masses.mean(), masses.std(ddof=1) / np.sqrt(len(masses))
    fig, ax = new_figure(6.4, 3.2, layout="constrained")
    ax.hist(masses, bins=40, color=COLORS["q"], alpha=0.7, label=f"{len(masses)} single q_IW")
    ax.axvspan(mean - 2 * se, mean + 2 * se, color=COLORS["gap"], alpha=0.3, label="their mean ± 2 se")
    ax.axvline(1.0, color=COLORS["posterior"], lw=1.5, label="1")
    ax.set(xlabel="∫ q_IW(z | z_2..z_K) dz", ylabel="inner draws",
           title="No single q_IW is normalized; their average is, within its error")
    ax.legend(fontsize=FONT)
    return finish(fig)
