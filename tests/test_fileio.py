"""Atomic writes: the target is replaced whole or not at all."""
import os

import pytest

from elbo_course.fileio import atomic_open, atomic_write


def test_atomic_write_bytes_and_text(tmp_path):
    target = tmp_path / "sub" / "f.txt"
    atomic_write(target, "héllo\n")
    assert target.read_text(encoding="utf-8") == "héllo\n"
    atomic_write(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert oct(os.stat(target).st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.txt"]


def test_failure_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "wb") as handle:
            handle.write(b"half of the new")
            raise RuntimeError("crash while writing")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_rejects_append_mode(tmp_path):
    with pytest.raises(ValueError, match="whole files"):
        with atomic_open(tmp_path / "x", "ab"):
            pass


def test_failed_replace_leaves_nothing(tmp_path, monkeypatch):
    from elbo_course import fileio

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fileio.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "f", b"payload")
    assert list(tmp_path.iterdir()) == []
