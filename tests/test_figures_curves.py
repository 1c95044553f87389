"""Learning curves drawn from results entries."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from elbo_course.figures import style_problems  # noqa: E402
from elbo_course.figures.curves import plot_learning_curves  # noqa: E402


def test_learning_curves_have_both_panels_and_published_lines():
    models = [{"model_id": name, "learning_curve": {"epoch": [1, 2, 3], "minutes": [0.1, 0.2, 0.3],
                                                    "test_elbo": [-120.0 + s, -110.0 + s, -105.0 + s]}}
              for name, s in (("vae_k1", 0.0), ("iwae_k5", 2.0))]
    fig = plot_learning_curves(models, published={"vae_k1": -86.76})
    by_epoch, by_minute = fig.axes
    assert len(by_epoch.get_lines()) == 3 and len(by_minute.get_lines()) == 3  # two curves and one dashed line
    assert by_epoch.get_ylabel() == "test ELBO (nats)" and "minutes" in by_minute.get_xlabel()
    assert style_problems(fig) == []
