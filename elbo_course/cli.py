"""The ``elbo-course`` command (installed with the package): ``elbo-course nbgrader DIR ...``.

Subcommands:
    nbgrader   write an nbgrader course from the solutions (``grading.nbgrader_course``; see INSTRUCTORS.md)
"""
from __future__ import annotations

import sys

SUBCOMMANDS = {"nbgrader": "write an nbgrader course directory from the course's solutions"}


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``elbo-course <subcommand> ...``; 2 with the list of subcommands for anything else."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SUBCOMMANDS:
        listed = "\n".join(f"  {name:<10} {what}" for name, what in SUBCOMMANDS.items())
        print(f"usage: elbo-course <subcommand> [--help]\n\nsubcommands:\n{listed}", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    from .grading.nbgrader_course import main as nbgrader_main

    return nbgrader_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
