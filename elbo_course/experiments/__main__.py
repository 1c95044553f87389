"""Command line: ``python -m elbo_course.experiments NAME --budget ci|full|paper [--out DIR]``."""
from __future__ import annotations

import argparse
import sys
import time

from .. import runtime
from . import registry, run_experiment


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
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
