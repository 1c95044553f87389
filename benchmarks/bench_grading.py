"""How long nbgrader's autograde would spend executing one submission of each lesson (issue: under 30 s).

nbgrader's autograde executes the whole submitted notebook in a fresh kernel with ``NBGRADER_EXECUTION`` set,
which makes ``elbo_course`` use the ``ci`` budget. This benchmark executes each notebook of ``solutions/``
(a full-marks submission) and of ``lessons/`` (an untouched one, whose stubs raise) the same way with nbclient
and reports the wall time, kernel start included; nbgrader's own bookkeeping (a few seconds per submission)
comes on top.
Usage: ``python -m benchmarks.bench_grading [--quick] [--only NN]``.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 30.0


def grading_seconds(path: Path) -> float:
    """Wall seconds to execute ``path`` in a fresh kernel as nbgrader's autograde would (NBGRADER_EXECUTION set)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    previous = os.environ.get("NBGRADER_EXECUTION")
    os.environ["NBGRADER_EXECUTION"] = "autograde"      # the kernel inherits it
    try:
        start = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                       allow_errors=True).execute()
        return time.perf_counter() - start
    finally:
        if previous is None:
            os.environ.pop("NBGRADER_EXECUTION", None)
        else:
            os.environ["NBGRADER_EXECUTION"] = previous


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the first two lessons")
    parser.add_argument("--only", default=None, help="only the lesson whose id starts with this prefix")
    args = parser.parse_args(argv)
    paths = sorted((REPO / "solutions").glob("*.ipynb"))
    if args.only:
        paths = [p for p in paths if p.name.startswith(args.only)]
    if args.quick:
        paths = paths[:2]
    print(f"seconds to execute one submission as autograde does (NBGRADER_EXECUTION set, ci budget), target "
          f"< {TARGET_SECONDS:.0f} s; {os.environ.get('ELBO_COURSE_THREADS', 2)} threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    for path in paths:
        solved = grading_seconds(path)
        untouched = grading_seconds(REPO / "lessons" / path.name)
        flag = "" if max(solved, untouched) < TARGET_SECONDS else "  over the target"
        print(f"  {path.stem:<32} solved {solved:5.1f} s   untouched {untouched:5.1f} s{flag}")


if __name__ == "__main__":
    main()
