"""Which budget is active: setup(budget=...), then nbgrader's execution (always ci), then $ELBO_COURSE_BUDGET."""
from __future__ import annotations

import pytest

from elbo_course import runtime


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setitem(runtime._state, "budget", None)
    monkeypatch.delenv("ELBO_COURSE_BUDGET", raising=False)
    monkeypatch.delenv(runtime.GRADER_ENV, raising=False)
    return monkeypatch


def test_default_and_environment(fresh):
    assert runtime.budget() == "full"
    fresh.setenv("ELBO_COURSE_BUDGET", "paper")
    assert runtime.budget() == "paper"
    fresh.setenv("ELBO_COURSE_BUDGET", "huge")
    with pytest.raises(ValueError, match="Unknown budget 'huge'"):
        runtime.budget()


def test_nbgrader_execution_grades_in_the_ci_budget(fresh):
    """nbgrader's autograde and validate set NBGRADER_EXECUTION in the kernel: the whole submission runs, so the
    cheap budget wins over a hub-wide ELBO_COURSE_BUDGET; an explicit setup(budget=...) still wins over both."""
    fresh.setenv("ELBO_COURSE_BUDGET", "full")
    fresh.setenv(runtime.GRADER_ENV, "autograde")
    assert runtime.budget() == "ci"
    fresh.setitem(runtime._state, "budget", "full")
    assert runtime.budget() == "full"
