"""Exercise specs, one module per lesson, registered with ``elbo_course.grading.register``.

Which module registers an exercise: the lesson id's two-digit prefix names it. The exercise
``"<lesson_id>-<name>"`` is registered by ``elbo_course.grading.specs.lesson<NN>``, where ``NN`` are the
first two characters of the lesson id, e.g. ``"05_elbo_surgery-aggregate_log_density"`` ->
``elbo_course.grading.specs.lesson05`` (``module_for`` computes it). ``grading.check`` imports that module
the first time one of its exercises is checked, so a new lesson adds a file ``lesson<NN>.py`` here that
calls, at import time::

    from ..check import register

    LESSON = "07_learned_priors"
    register(f"{LESSON}-vamp_log_prior", difficulty=2, hint="...",
             cases=_vamp_cases, reference=reference_vamp_log_prior)      # the answer is a function
    register(f"{LESSON}-which_is_larger", difficulty=1, hint="...", expected="iwae")  # the answer is a value

Rules for a spec module:

* Keep it light (no MNIST, no training): cases are small tensors drawn from
  ``rng("<lesson_id>:<purpose>", seed=0)`` (the style guide's generator tags; ``seed=0`` keeps the
  cases independent of ``setup(seed=...)``).
* Write every reference independently of the library function the student re-implements (a direct
  float64 computation), so that a check compares two implementations rather than one run twice.
* A notebook's hidden tests compare against numbers stored in the grade cell, with the spec's tolerance.
"""
from __future__ import annotations

import re

_PREFIX = re.compile(r"^(?P<number>[0-9]{2})_")


def module_for(lesson_id: str) -> str:
    """The spec module of a lesson: ``"05_elbo_surgery" -> "elbo_course.grading.specs.lesson05"``.

    ValueError when the lesson id does not start with two digits and ``_``.
    """
    match = _PREFIX.match(lesson_id) if isinstance(lesson_id, str) else None
    if match is None:
        raise ValueError(f"lesson id {lesson_id!r} does not start with a two-digit number and '_' "
                         "(e.g. '05_elbo_surgery'), so no spec module lessonNN is named after it.")
    return f"{__name__}.lesson{match['number']}"
