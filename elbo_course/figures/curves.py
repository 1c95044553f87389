"""Learning curves of the MNIST experiments (lessons 04 and 06 and later), drawn from stored results.

Each model entry of a results file has ``learning_curve = {"epoch", "minutes", <key>}``: an ELBO on fixed
images after every epoch (``test_elbo`` on the test subset, or ``train_elbo`` on 1,000 training images),
against epochs and against cumulative training minutes.
``plot_learning_curves`` draws both panels, with a published value as a dashed line where one exists.
"""
from __future__ import annotations

from typing import Any

from . import COLORS, FONT, finish, new_figure

_CYCLE = ("q", "second", "third", "gap", "prior")


def plot_learning_curves(models: list[dict[str, Any]], key: str = "test_elbo", label_key: str = "model_id",
                         published: dict[str, float] | None = None, final: dict[str, float] | None = None,
                         ylabel: str = "test ELBO (nats)", title: str | None = None):
    """Figure: ``learning_curve[key]`` (nats) against epochs (left) and training minutes (right), one line per
    model entry; ``published`` maps a label to a value drawn as a dashed line in the model's colour, ``final``
    to a value marked × after the last epoch (e.g. the final test log-likelihood). Returns the Figure."""
    fig, (by_epoch, by_minute) = new_figure(8, 3.4, 1, 2, sharey=True)
    shown: list[float] = [*(published or {}).values(), *(final or {}).values()]
    for i, entry in enumerate(models):
        curve, label = entry["learning_curve"], str(entry[label_key])
        colour = COLORS[_CYCLE[i % len(_CYCLE)]]
        shown += curve[key][len(curve[key]) // 10:]  # the first tenth of training would squash the rest
        by_epoch.plot(curve["epoch"], curve[key], color=colour, label=label)
        by_minute.plot(curve["minutes"], curve[key], color=colour, label=label)
        if published and label in published:
            for ax in (by_epoch, by_minute):
                ax.axhline(published[label], color=colour, ls="--", lw=1)
        if final and label in final:
            by_epoch.plot([curve["epoch"][-1]], [final[label]], marker="x", color=colour, ls="none")
            by_minute.plot([curve["minutes"][-1]], [final[label]], marker="x", color=colour, ls="none")
    by_epoch.set(xlabel="epoch", ylabel=ylabel, ylim=(min(shown) - 2, max(shown) + 2))
    by_minute.set(xlabel="training minutes (2 CPU cores)")
    for ax in (by_epoch, by_minute):
        ax.grid(alpha=0.3)
    by_epoch.legend(fontsize=FONT, title="dashed: published" if published else None, title_fontsize=FONT)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return finish(fig)
