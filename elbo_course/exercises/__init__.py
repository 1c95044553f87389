"""Exercise specs, one module per lesson, registered with ``elbo_course.grading.register``.

Mapping from exercise ids to modules (lesson ids start with digits, so every module name gets a leading
underscore): the exercise ``"<lesson_id>.<name>"`` is registered by ``elbo_course.exercises._<lesson_id>``,
e.g. ``"00_start_here.log_mean_exp"`` -> ``elbo_course.exercises._00_start_here``
(``elbo_course.grading.module_for`` computes it). ``check`` imports that module on first use, so a lesson
helper adds a file ``_<lesson_id>.py`` here that calls, at import time::

    from elbo_course.grading import register

    register("04_iwae.iwae_bound", difficulty=2, hint="...",
             cases=[(log_w,), ...], reference=my_reference_function)   # the answer is a function
    register("04_iwae.which_is_larger", difficulty=1, hint="...", expected="iwae")  # the answer is a value

Keep specs light (no MNIST, no training): cases are small tensors built from seeded generators.
"""
