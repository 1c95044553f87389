"""Published numbers to print beside ours, each with its provenance label.

The values live in ``reference_values.json`` (shipped with the package), a structured copy of
``../shared/reference-values.md``; ``tests/test_reference.py`` compares the two whenever ``../shared`` exists.

Labels
    ``secondary``   quoted by a public reproduction, not read in the paper itself;
    ``unverified``  recalled and internally consistent, not seen in a reachable source: always printed;
    ``measured``    measured by this course on its own copy of MNIST.

Example::

    >>> row("hoffman2016.surgery", d=20)["elbo"]
    -87.45
    >>> format_published(-87.45, "hoffman2016.surgery")
    '−87.45 (Hoffman & Johnson 2016, unverified)'
"""
from __future__ import annotations

import copy
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

LABELS = ("secondary", "unverified", "measured")
VALUES_PATH = Path(__file__).with_name("reference_values.json")

#: Number of MNIST training images, N, and log N (the ceiling of the index-code mutual information).
N_MNIST_TRAIN = 60_000
LOG_N_MNIST = math.log(N_MNIST_TRAIN)


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, Any]]:
    with open(VALUES_PATH, encoding="utf-8") as handle:
        table = json.load(handle)
    table.pop("_about", None)
    for key, entry in table.items():
        if entry.get("label") not in LABELS or not entry.get("source"):
            raise ValueError(f"{VALUES_PATH}: entry {key!r} needs a label in {LABELS} and a source.")
    return table


def keys() -> list[str]:
    """All entry keys, e.g. ``["burda2015.table1", ...]``, in file order."""
    return list(_table())


def published(key: str) -> dict[str, Any]:
    """A deep copy of the entry ``key`` (fields ``label``, ``source``, and the numbers with their set-up)."""
    table = _table()
    if key not in table:
        raise KeyError(f"No published entry {key!r}; known keys: {', '.join(table)}.")
    return copy.deepcopy(table[key])


def label(key: str) -> str:
    """The provenance label of ``key``: ``secondary``, ``unverified`` or ``measured``."""
    return published(key)["label"]


def source(key: str) -> str:
    """The short citation of ``key``, e.g. ``"Hoffman & Johnson 2016"``."""
    return published(key)["source"]


def row(key: str, **match: Any) -> dict[str, Any]:
    """The unique row of a tabular entry whose fields equal ``match``.

    ``row("burda2015.table1", layers=1, k=50)`` -> ``{"layers": 1, "k": 50, "vae": 86.35, "iwae": 84.78}``.
    """
    rows = published(key).get("rows")
    if rows is None:
        raise KeyError(f"Entry {key!r} is not a table (it has no 'rows').")
    found = [r for r in rows if all(r.get(name) == value for name, value in match.items())]
    if len(found) != 1:
        raise KeyError(f"{len(found)} rows of {key!r} match {match}; available rows: {rows}.")
    return found[0]


def format_published(value: float, key: str, decimals: int = 2) -> str:
    """``value`` with its provenance, e.g. ``"−87.45 (Hoffman & Johnson 2016, unverified)"``.

    Prints ``decimals`` decimals (most published MNIST numbers have two) and a typographic minus.
    """
    entry = published(key)
    text = f"{float(value):.{decimals}f}".replace("-", "\u2212")
    return f"{text} ({entry['source']}, {entry['label']})"


def _mnist_md5() -> dict[str, str]:
    return dict(_table()["mnist.md5"]["files"])


#: MD5 of the four original uncompressed MNIST files, keyed by file name.
MNIST_MD5: dict[str, str] = _mnist_md5()
