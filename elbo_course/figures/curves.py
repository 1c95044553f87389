"""Learning curves of the MNIST experiments (lessons 04 and 06 and later), drawn from stored results.

Each model entry of a results file has ``learning_curve = {"epoch", "minutes", "test_elbo"}``: the test ELBO
on the fixed test subset after every epoch, against epochs and against cumulative training minutes.
``plot_learning_curves`` draws both panels, with a published value as a dashed line where one exists.
"""
from __future__ import annotations

from typing import Any

from . import COLORS, FONT, finish, new_figure

_CYCLE = ("q", "second", "third", "gap", "prior")


def plot_learning_curves(models: list[dict[str, Any]], label_key: str = "model_id",
                         published: dict[str, float] | None = None, title: str | None = None):
    """Figure: test ELBO (nats) against epochs (left) and against training minutes (right), one line per model
    entry; ``published`` maps a label to a value drawn as a dashed line in the model's colour. Returns it."""
    fig, (by_epoch, by_minute) = new_figure(8, 3.4, 1, 2, sharey=True)
    for i, entry in enumerate(models):
        curve, label = entry["learning_curve"], str(entry[label_key])
        colour = COLORS[_CYCLE[i % len(_CYCLE)]]
        by_epoch.plot(curve["epoch"], curve["test_elbo"], color=colour, label=label)
        by_minute.plot(curve["minutes"], curve["test_elbo"], color=colour, label=label)
        if published and label in published:
            for ax in (by_epoch, by_minute):
                ax.axhline(published[label], color=colour, ls="--", lw=1)
    by_epoch.set(xlabel="epoch", ylabel="test ELBO (nats)")
    by_minute.set(xlabel="training minutes (2 CPU cores)")
    for ax in (by_epoch, by_minute):
        ax.grid(alpha=0.3)
    by_epoch.legend(fontsize=FONT, title="dashed: published" if published else None, title_fontsize=FONT)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return finish(fig)
