"""Session set-up for notebooks, scripts and tests: budget, threads, warnings and seeded generators.

Budgets
    ``ci``    smallest evaluations (CI and quick checks),
    ``full``  the default: what the stored outputs and committed results use,
    ``paper`` long runs meant for a GPU or a night.

Unsolved exercises
    In IPython, ``setup()`` shows an exercise's stub, ``raise NotImplementedError("Exercise <id>: ...")``,
    as one "not solved yet" line naming the line to replace, and likewise a grade cell's
    ``check("<id>", name)`` whose answer ``name`` is not defined yet (the checker's own exceptions render
    themselves through ``_render_traceback_``); every other error keeps IPython's traceback.

Seeds
    ``seed_for(tag)`` = the first 8 bytes (big-endian) of SHA-256(f"{seed}:{tag}"), so that every cell
    that samples owns its generator and no output depends on how many numbers an earlier cell drew.
"""
from __future__ import annotations

import hashlib
import os
import re
import traceback
import warnings
from types import TracebackType
from typing import Any

import numpy as np
import torch

BUDGETS = ("ci", "full", "paper")
DEFAULT_BUDGET = "full"
DEFAULT_THREADS = 2

_state: dict[str, object] = {"budget": None, "seed": 0, "flush_denormal": False}


def flush_denormals_in_this_process() -> None:
    """Treat float denormals as zero in every thread of this process (``torch.set_flush_denormal``).

    Call it first thing in a process that trains (the experiments' command line, the benchmarks), before
    any parallel torch operation: the flag lives in each thread's floating-point control register, so it
    reaches only the calling thread and the OpenMP workers created after it. Set only later (as ``fit`` does
    for its own thread), the workers keep computing on denormals: a d = 2 VAE, whose decoder is sure of the
    blank border pixels (logits near -90, so exp(logit) is a float32 denormal), trained 2-3x slower per step.
    Values below 1.2e-38 (float32) or 2.2e-308 (float64) become 0; nothing a lesson prints depends on them,
    and notebooks do not call this (a toy that exponentiates a large negative number keeps its denormals).
    """
    torch.set_flush_denormal(True)
    _state["flush_denormal"] = True


def flush_denormal_default() -> bool:
    """Whether ``flush_denormals_in_this_process`` was called (``fit`` restores this state when it ends)."""
    return bool(_state["flush_denormal"])


GRADER_ENV = "NBGRADER_EXECUTION"  # set by nbgrader in the kernel it runs for autograde and validate


def budget() -> str:
    """The active budget: set by ``setup(budget=...)``; else ``ci`` while nbgrader executes the notebook
    (``$NBGRADER_EXECUTION`` is set: autograde runs the whole submission, so only the cheap evaluations);
    else ``$ELBO_COURSE_BUDGET``; else ``full``."""
    grading = "ci" if os.environ.get(GRADER_ENV) else None
    chosen = _state["budget"] or grading or os.environ.get("ELBO_COURSE_BUDGET") or DEFAULT_BUDGET
    if chosen not in BUDGETS:
        raise ValueError(
            f"Unknown budget {chosen!r}: use one of {', '.join(BUDGETS)} "
            "(in setup(budget=...) or the ELBO_COURSE_BUDGET environment variable)."
        )
    return str(chosen)


def _filter_warnings() -> None:
    # nbval compares stderr too: silence the warnings that third-party libraries print on import/use.
    for pattern in (
        r".*TypedStorage is deprecated.*",
        r".*The given NumPy array is not writable.*",
        r".*IProgress not found.*",
        r".*Jupyter is migrating its paths.*",
        r".*pkg_resources is deprecated.*",
        r".*Matplotlib is building the font cache.*",
    ):
        warnings.filterwarnings("ignore", message=pattern)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(jupyter_client|ipykernel|zmq|traitlets)")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\..*")


# "Exercise <id>: <task>" (our lessons) or "Exercise: <task>" (the stub nbgrader writes for an exported course)
_STUB = re.compile(r"Exercise(?: (?P<id>[A-Za-z0-9_]+-[A-Za-z0-9_]+))?: (?P<task>.*)", re.S)


def exercise_stub_message(err: BaseException, tb: TracebackType | None = None) -> str | None:
    """One line for an exercise stub's NotImplementedError ("Exercise <id>: <task>" or, as nbgrader writes it
    for an exported course, "Exercise: <task>"), None otherwise."""
    match = _STUB.fullmatch(str(err)) if type(err) is NotImplementedError else None
    if match is None:
        return None
    frames = traceback.extract_tb(tb if tb is not None else err.__traceback__)
    where = f"line {frames[-1].lineno} of the exercise cell" if frames else "the stub line"
    which = f"Exercise {match['id']} is" if match["id"] else "This exercise is"
    return (f"⏳ {which} not solved yet: replace {where}, `raise NotImplementedError(...)`, "
            f"with your code ({match['task'].rstrip('.')}).")


# ``check("<id>", <answer name>)``: a grade cell's visible line (the lesson build reads answer names with it too)
CHECK_CALL = re.compile(r"\bcheck\(\s*[\"'](?P<id>[A-Za-z0-9_]+-[A-Za-z0-9_]+)[\"']\s*,\s*(?P<name>[A-Za-z_]\w*)")


def unsolved_answer_message(err: BaseException, tb: TracebackType | None = None) -> str | None:
    """One line for ``check("<id>", name)`` failing because ``name`` is undefined (its exercise is unsolved)."""
    if type(err) is not NameError or not getattr(err, "name", None):
        return None
    frames = traceback.extract_tb(tb if tb is not None else err.__traceback__)
    match = CHECK_CALL.search(frames[-1].line or "") if frames else None
    if match is None or match["name"] != err.name:
        return None
    return (f"⏳ Exercise {match['id']} is not solved yet: `{err.name}` is not defined. Solve the exercise above "
            f"(its cell defines `{err.name}`), run that cell, then run this one again.")


def _show_exercise_errors(shell: Any, etype: type, value: BaseException, tb: TracebackType | None,
                          tb_offset: int | None = None) -> None:
    """IPython custom-exception handler: a stub, or a grade cell's undefined answer, shows as one line.

    (IPython's ``showtraceback`` prints ``value._render_traceback_()`` instead of a traceback when present.)
    """
    line = exercise_stub_message(value, tb) or unsolved_answer_message(value, tb)
    if line is not None:
        value._render_traceback_ = lambda: [line]  # type: ignore[attr-defined]
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


def _install_exercise_display() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "set_custom_exc"):
        shell.set_custom_exc((NotImplementedError, NameError), _show_exercise_errors)


def setup(budget: str | None = None, seed: int = 0) -> None:
    """Prepare a notebook or script: budget, thread count, warning filters, base seed.

    ``budget`` overrides ``$ELBO_COURSE_BUDGET`` (one of ``ci``, ``full``, ``paper``); the thread count
    comes from ``$ELBO_COURSE_THREADS`` (default 2). In IPython it also installs the short display of
    unsolved exercises and failed checks (see the module docstring). Returns None so that a notebook cell
    prints nothing.
    """
    if budget is not None and budget not in BUDGETS:
        raise ValueError(f"Unknown budget {budget!r}: use one of {', '.join(BUDGETS)}.")
    _state["budget"] = budget
    _state["seed"] = int(seed)
    globals()["budget"]()  # validate the environment variable now, with a clear message
    threads = int(os.environ.get("ELBO_COURSE_THREADS", DEFAULT_THREADS))
    if threads < 1:
        raise ValueError("ELBO_COURSE_THREADS must be a positive integer.")
    torch.set_num_threads(threads)
    _filter_warnings()
    _install_exercise_display()
    try:  # inline figures without the retina doubling, so stored PNGs stay small
        import matplotlib

        matplotlib.rcParams.update({"figure.dpi": 90, "savefig.dpi": 90, "figure.max_open_warning": 0})
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        pass
    return None


def seed_for(tag: str, seed: int | None = None) -> int:
    """Integer seed of a tag: int.from_bytes(SHA-256(f"{seed}:{tag}")[:8], "big"), in [0, 2**64)."""
    base = _state["seed"] if seed is None else seed
    digest = hashlib.sha256(f"{base}:{tag}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def rng(tag: str, seed: int | None = None) -> torch.Generator:
    """A fresh CPU ``torch.Generator`` seeded by ``seed_for(tag, seed)``; pass it as ``generator=``."""
    return torch.Generator().manual_seed(seed_for(tag, seed))


def np_rng(tag: str, seed: int | None = None) -> np.random.Generator:
    """A fresh ``numpy.random.Generator`` seeded by ``seed_for(tag, seed)``."""
    return np.random.default_rng(seed_for(tag, seed))
