"""Figures of lesson 08: the lower convex hull, and the three figures drawn from synthetic points."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

from elbo_course.figures import lesson08 as figs, style_problems  # noqa: E402


def _points() -> list[dict]:
    out = []
    for beta, rate, dist in ((0.1, 120.0, 40.0), (0.3, 60.0, 55.0), (1.0, 25.0, 68.0), (3.0, 10.0, 90.0),
                             (10.0, 2.0, 150.0), (30.0, 0.01, 205.0)):
        out.append({"beta": beta, "rate": rate, "distortion": dist, "mutual_info": min(rate, 11.0) * 0.9,
                    "mutual_info_se": 0.01, "marginal_kl": rate - min(rate, 11.0) * 0.9, "marginal_kl_se": 0.02})
    return out


def test_lower_hull_drops_points_above_it():
    pts = [(0, 10), (1, 4), (2, 5), (3, 1), (4, 0.5), (2, 9)]
    assert figs.lower_hull(pts) == [(0, 10), (1, 4), (3, 1), (4, 0.5)]
    assert figs.lower_hull([(1, 1)]) == [(1, 1)]


def test_the_three_figures_follow_the_style_rules():
    points = _points()
    for fig in (figs.plot_rate_distortion(points, 206.0, published={"Alemi et al.": (156.0, 4.8)}),
                figs.plot_information(points, math.log(60_000)),
                figs.plot_mutual_info_interval(points, 56.7)):
        assert style_problems(fig) == []
