"""The rate-distortion experiment (lesson 08): a ci smoke run, the committed sweep, and two of its points
recomputed independently from their checkpoints."""
from __future__ import annotations

import json
import math

import pytest
import torch

from elbo_course import data, rng
from elbo_course.distributions import DiagonalGaussian
from elbo_course.experiments import common, load_model, load_results, run_experiment
from elbo_course.experiments import rate_distortion as experiment
from elbo_course.experiments.surgery import reconstruction
from elbo_course.fileio import file_sha256
from elbo_course.models import encode_dataset

POINT_KEYS = ("model_id", "beta", "latent_dim", "rate", "distortion", "distortion_se", "test_rate", "test_distortion",
              "test_distortion_se", "mutual_info", "mutual_info_se", "marginal_kl", "marginal_kl_se", "elbo", "elbo_se",
              "epochs", "seconds")
ENTROPY_KEYS = ("entropy", "entropy_se", "binarization_entropy")


def _check(record: dict, directory) -> None:
    betas = [p["beta"] for p in record["points"]]
    assert betas == list(experiment.BETAS[record["budget"]])
    for p in record["points"]:
        for key in POINT_KEYS:
            assert key in p, (p["model_id"], key)
        assert p["rate"] + p["distortion"] == pytest.approx(-p["elbo"], abs=1e-9)
        assert p["mutual_info"] <= p["rate"] + 4 * p["mutual_info_se"]
        if p["beta"] in record["config"]["shown"]:
            assert file_sha256(directory / p["checkpoint"]) == p["checkpoint_sha256"]
        else:
            assert "checkpoint" not in p
    assert [m["beta"] for m in record["models"]] == record["config"]["shown"]
    for key in ENTROPY_KEYS:
        assert math.isfinite(record[key])


@pytest.mark.slow
def test_ci_smoke_run_writes_the_schema(tmp_path):
    record = json.loads(run_experiment("rate_distortion", "ci", tmp_path).read_text())
    assert record["config_fingerprint"] == common.config_fingerprint(experiment.config("ci"))
    _check(record, tmp_path)


@pytest.fixture(scope="module")
def full(committed_results):
    return committed_results("rate_distortion")


def test_committed_sweep(full):
    _check(full, full.directory)
    points = full["points"]
    assert len(points) >= 6 and points[0]["rate"] > 50 and points[-1]["rate"] < 5   # autoencoding to collapse
    for a, b in zip(points, points[1:]):
        assert b["rate"] <= a["rate"] + 0.5 and b["distortion"] >= a["distortion"] - 0.5


def test_lesson08_spec_constants_are_the_stored_run(full):
    from elbo_course.grading.specs import lesson08

    by_beta = {p["beta"]: p for p in full["points"]}
    low, high = by_beta[min(by_beta)], by_beta[max(by_beta)]
    stored = {"marginal_kl_min_beta": low["marginal_kl"], "mutual_info_min_beta": low["mutual_info"],
              "mutual_info_max_beta": high["mutual_info"], "marginal_kl_max_beta": high["marginal_kl"]}
    assert lesson08._STORED == stored


@pytest.mark.slow
@pytest.mark.parametrize("beta", [1.0, 10.0])
def test_two_points_recomputed_from_their_checkpoints(full, beta):
    """R in closed form over all 60,000 fixed-binarized training images equals the stored rate; D from one
    fresh draw per image agrees with the stored distortion within 4 combined standard errors."""
    point = next(p for p in full["points"] if p["beta"] == beta)
    model = load_model(full, point["model_id"])
    x = torch.from_numpy(data.fixed_binarization("train").astype("float32"))
    mu, logvar = encode_dataset(model, x)
    rate = float(DiagonalGaussian(mu.double(), logvar.double()).kl_standard_normal().mean())
    assert rate == pytest.approx(point["rate"], abs=1e-6)
    recon, se = reconstruction(model, x, 2, rng(f"test_rate_distortion:{beta:g}"))
    assert abs(-recon - point["distortion"]) < 4 * math.hypot(se, point["distortion_se"])


def test_lesson08_rd_slips_are_those_of_the_stored_model():
    """Exercise 8.2's wrong answers: nats for bits, z = mu, exp(logvar) as the standard deviation, R and D swapped."""
    from elbo_course.grading.specs import lesson08

    model, x, eps = lesson08.rd_inputs()
    right = lesson08.rd_of_model(model, x, eps)
    slips = {"rate_bits": right["rate"], "distortion_bits": right["distortion"],
             "rate_nats": right["rate"] * math.log(2), "distortion_nats": right["distortion"] * math.log(2),
             "distortion_at_mean_bits": lesson08.rd_of_model(model, x, 0 * eps)["distortion"],
             "distortion_std_as_var_bits": _std_as_var(model, x, eps)}
    for key, value in slips.items():
        assert lesson08._RD[key] == pytest.approx(value, rel=1e-4), key


def _std_as_var(model, x, eps) -> float:
    with torch.no_grad():
        mu, logvar = model.encode(x)
        logits = model.decode(mu + logvar.exp() * eps)
        return float(torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1).mean()) / math.log(2)
