"""Command line.

    python -m elbo_course.experiments NAME --budget ci|full|paper [--out DIR]    run one experiment
    python -m elbo_course.experiments --stale [--force] [--only NAME]          run every full experiment whose
                                                                              results are missing or stale
    python -m elbo_course.experiments --list

``--stale`` (``make reproduce``) checks each experiment's committed results with ``load_results`` (missing,
untrustworthy, other data, other configuration) and runs those that fail, one after the other; an
interrupted run resumes from its staging folder the next time.
"""
from __future__ import annotations

import argparse
import sys
import time

from .. import runtime
from . import StaleArtifactError, load_results, registry, run_experiment


def main(argv: list[str] | None = None) -> int:
    names = sorted(registry())
    parser = argparse.ArgumentParser(prog="python -m elbo_course.experiments",
                                     description="Train and evaluate the models behind a lesson; store the results.")
    parser.add_argument("name", nargs="?", help=f"experiment to run ({', '.join(names) or 'none registered'})")
    parser.add_argument("--budget", choices=runtime.BUDGETS, default=None,
                        help="ci: smoke run into a temporary folder; full: results/; paper: results/paper/ "
                             "(default: $ELBO_COURSE_BUDGET or full)")
    parser.add_argument("--out", default=None, help="write here instead of the budget's results folder")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    parser.add_argument("--stale", action="store_true", help="run every experiment whose stored results are "
                        "missing or stale (in --budget, default full)")
    parser.add_argument("--force", action="store_true", help="with --stale: rerun even current results")
    parser.add_argument("--only", default=None, help="with --stale: consider this experiment only")
    args = parser.parse_args(argv)
    if args.stale:
        return reproduce(args.budget or "full", args.only, args.force)
    if args.list or args.name is None:
        print("\n".join(names) if names else "no experiments registered")
        return 0 if args.list else 2
    if args.name not in names:
        parser.error(f"unknown experiment {args.name!r}; choose from: {', '.join(names) or 'none registered'}")
    runtime.setup(budget=args.budget)
    budget = runtime.budget()
    started = time.perf_counter()
    path = run_experiment(args.name, budget, args.out)
    print(f"{args.name} ({budget}): wrote {path} in {time.perf_counter() - started:.0f} s")
    return 0


def stale(budget: str, names: list[str]) -> dict[str, str]:
    """Experiment -> why its stored results cannot be used, for those of ``names`` that need a run."""
    reasons = {}
    for name in names:
        try:
            load_results(name, budget)
        except StaleArtifactError as error:
            reasons[name] = str(error).split(". ")[0]
    return reasons


def reproduce(budget: str, only: str | None = None, force: bool = False) -> int:
    """Run the experiments of ``budget`` whose results are missing or stale (all of them with ``force``)."""
    names = sorted(registry())
    if only is not None:
        if only not in names:
            print(f"unknown experiment {only!r}; choose from: {', '.join(names)}", file=sys.stderr)
            return 2
        names = [only]
    runtime.setup(budget=budget)
    names = in_dependency_order(names)
    todo = {name: "forced" for name in names} if force else stale(budget, names)
    for name in names:  # an experiment that reads another's models reruns when that one does
        for needed in _after(name):
            if needed in todo and name not in todo:
                todo[name] = f"{needed} is rerun first and {name} reads its models"
    todo = {name: todo[name] for name in names if name in todo}
    for name in names:
        print(f"{name}: {'needs a run (' + todo[name] + ')' if name in todo else 'current'}", flush=True)
    for name in todo:
        started = time.perf_counter()
        path = run_experiment(name, budget)
        print(f"{name} ({budget}): wrote {path} in {time.perf_counter() - started:.0f} s", flush=True)
    return 0


def _after(name: str) -> tuple[str, ...]:
    """The experiments whose stored models ``name`` reads (its module's ``AFTER``)."""
    import importlib

    return tuple(getattr(importlib.import_module(registry()[name]), "AFTER", ()))


def in_dependency_order(names: list[str]) -> list[str]:
    """``names`` sorted so that every experiment comes after those in its ``AFTER`` (alphabetical otherwise)."""
    done: list[str] = []
    pending = sorted(names)
    while pending:
        ready = [n for n in pending if all(a in done or a not in names for a in _after(n))]
        if not ready:
            raise RuntimeError(f"experiments {pending} depend on each other in a cycle (their AFTER).")
        done.append(ready[0])
        pending.remove(ready[0])
    return done


if __name__ == "__main__":
    # A training process: flush denormals in every thread, set before any parallel op so that the OpenMP
    # workers inherit it (only here, not in main(): a caller's process keeps its own floating-point state).
    runtime.flush_denormals_in_this_process()
    sys.exit(main())
