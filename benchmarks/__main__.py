"""`python -m benchmarks [--quick]`: run every benchmark module's main() in turn.

Modules are imported lazily, so one that is missing (or fails) is reported and the others still run; the
exit status is 1 when any benchmark is missing or failed.
"""
from __future__ import annotations

import importlib
import inspect
import os
import sys
import traceback

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported by any benchmark

BENCHMARKS = ("bench_floor", "bench_epoch", "bench_marginal_kl")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    problems: list[str] = []
    for name in BENCHMARKS:
        print(f"=== benchmarks.{name} ===", flush=True)
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__package__}.{name}":
                raise
            print(f"missing: benchmarks/{name}.py does not exist yet")
            problems.append(f"{name} (missing)")
            continue
        takes_args = bool(inspect.signature(module.main).parameters)
        try:
            status = module.main(argv) if takes_args else module.main()
        except Exception:  # report and go on with the next benchmark
            traceback.print_exc()
            status = 1
        if isinstance(status, int) and not isinstance(status, bool) and status != 0:  # other returns are results
            problems.append(f"{name} (exit status {status})")
    if problems:
        print("benchmarks with problems: " + ", ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
