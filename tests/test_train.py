"""The training loop on real MNIST: it learns, it is deterministic, it resumes, and its losses are the bounds."""
from __future__ import annotations

import pytest
import torch

import math

from elbo_course.data import binarize, fixed_test_subset, load_mnist
from elbo_course.models import VAE
from elbo_course.train import fit, training_loss


@pytest.fixture(scope="module")
def mnist(mnist_available):
    grey, _ = load_mnist("train", root=mnist_available)
    test = fixed_test_subset(300, root=mnist_available)
    return grey[:2000].clone(), test


def _same_weights(a: VAE, b: VAE) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_fit_learns_on_real_mnist(mnist) -> None:
    grey, test = mnist
    torch.manual_seed(0)
    model = VAE(10)
    gen = torch.Generator().manual_seed(0)
    before = model.elbo(test, generator=gen).mean().item()
    history = fit(model, grey, epochs=2, batch_size=100, seed=0, device="cpu", progress=False)
    after = model.elbo(test, generator=torch.Generator().manual_seed(0)).mean().item()
    assert history["epoch"] == [1, 2] and history["steps"] == 40 and len(history["seconds"]) == 2
    assert history["loss"][1] < history["loss"][0] - 10, history["loss"]
    assert after > before + 200, (before, after)  # untrained: about -545 nats; after 40 steps: about -200
    assert not model.training


def test_fit_is_deterministic_and_resumes_exactly(mnist, tmp_path) -> None:
    grey = mnist[0][:500]

    def run(epochs: int, checkpoint=None, init_seed: int = 0) -> tuple[VAE, dict]:
        torch.manual_seed(init_seed)
        model = VAE(4, hidden=(64, 64))
        return model, fit(model, grey, epochs=epochs, batch_size=50, seed=3, device="cpu", progress=False,
                          checkpoint_path=checkpoint, warmup_epochs=2)

    a, history_a = run(3)
    b, _ = run(3)
    assert _same_weights(a, b)
    resume = tmp_path / "m.resume.pt"
    run(1, resume)
    c, history_c = run(3, resume, init_seed=99)  # the weights come from the resume file
    assert _same_weights(a, c)
    assert history_c["loss"] == history_a["loss"] and history_c["beta"] == history_a["beta"]
    assert history_a["beta"] == pytest.approx([0.45, 0.95, 1.0])
    with pytest.warns(UserWarning, match="other arguments"):  # another seed: the file must not be reused
        fit(VAE(4, hidden=(64, 64)), grey, epochs=1, batch_size=50, seed=4, device="cpu", progress=False,
            checkpoint_path=resume)  # beta_t = t / 20 at step t = 0, 1, ...; last of each epoch


def test_losses_are_the_bounds_written_out(mnist) -> None:
    """Each objective against its formula on the same draws: -mean(ELBO), -mean(1/K Σ log w), -mean(log 1/K Σ w)."""
    x = binarize(mnist[0][:64], torch.Generator().manual_seed(1))
    torch.manual_seed(2)
    model = VAE(6, hidden=(100, 80))
    gen = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    for k, beta in ((1, 1.0), (3, 0.3)):
        loss = training_loss(model, x, "elbo", k, beta, gen())
        recon, kl = model.elbo_parts(x, k, gen())
        assert loss.item() == pytest.approx(-(recon - beta * kl).mean().item(), rel=1e-6)
        log_w = model.log_weights(x, k, gen(), beta).double()
        averaged = training_loss(model, x, "averaged", k, beta, gen())
        assert averaged.item() == pytest.approx(-log_w.mean().item(), rel=1e-6)
        iwae = training_loss(model, x, "iwae", k, beta, gen())
        by_hand = -(log_w.max(0).values + (log_w - log_w.max(0).values).exp().mean(0).log()).mean()
        assert iwae.item() == pytest.approx(by_hand.item(), rel=1e-6)
        grads = torch.autograd.grad(loss, list(model.parameters()))
        assert all(torch.isfinite(g).all() for g in grads)
    assert math.isfinite(loss.item())


def test_objectives_order_and_binarization(mnist) -> None:
    x = binarize(mnist[0][:200], torch.Generator().manual_seed(1))
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    grey = mnist[0][:200]
    assert abs(x.mean().item() - grey.mean().item()) < 0.01  # E[x] = grey level
    torch.manual_seed(3)
    model = VAE(4, hidden=(64, 64))
    with torch.no_grad():
        losses = {obj: torch.stack([training_loss(model, x, obj, 10, 1.0, torch.Generator().manual_seed(s))
                                    for s in range(5)]).mean().item() for obj in ("elbo", "averaged", "iwae")}
    assert losses["iwae"] < losses["averaged"]  # -L_10 < -ELBO
    assert losses["averaged"] == pytest.approx(losses["elbo"], abs=1.0)
    with pytest.raises(ValueError, match="objective"):
        training_loss(model, x, "vae")


def test_iwae_training_and_time_limit(mnist) -> None:
    grey = mnist[0][:300]
    torch.manual_seed(4)
    model = VAE(3, hidden=(32, 32), activation="tanh")
    history = fit(model, grey, epochs=2, batch_size=100, objective="iwae", k=5, device="cpu", progress=False)
    assert len(history["loss"]) == 2 and all(torch.isfinite(torch.tensor(history["loss"])))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fit(model, grey * 255, epochs=1, device="cpu", progress=False)
    as_bytes = fit(model, (grey * 255).round().to(torch.uint8), epochs=1, batch_size=100, device="cpu", progress=False)
    assert as_bytes["loss"][0] < history["loss"][0] + 50  # bytes are read as byte/255, not as 0..255 logits
    stopped = fit(model, grey, epochs=5, batch_size=100, time_limit=0.0, device="cpu", progress=False)
    assert stopped["stopped"] == "time_limit" and stopped["steps"] == 1 and stopped["epoch"] == [1]


def test_on_epoch_records_a_learning_curve_outside_the_training_time(mnist) -> None:
    grey, test = mnist
    torch.manual_seed(5)
    model = VAE(4, hidden=(32, 32))
    seen_modes = []

    def curve(m: VAE) -> dict:
        seen_modes.append(m.training)
        return {"test_elbo": m.elbo(test[:100], generator=torch.Generator().manual_seed(0)).mean()}

    history = fit(model, grey[:500], epochs=3, batch_size=100, device="cpu", progress=False, on_epoch=curve)
    assert [sorted(h) for h in history["on_epoch"]] == [["test_elbo"]] * 3 and seen_modes == [False] * 3
    values = [h["test_elbo"] for h in history["on_epoch"]]
    assert values[-1] > values[0] and all(isinstance(v, float) for v in values)
    assert history["elapsed"] == pytest.approx(sum(history["seconds"]), rel=0.05, abs=0.05)


def test_fit_restores_the_process_denormal_setting():
    import subprocess
    import sys

    code = ("import torch\nfrom elbo_course import runtime\nfrom elbo_course.models import VAE\n"
            "from elbo_course.train import fit\n"
            "def flushed():\n    return torch.tensor([1e-40], dtype=torch.float32).mul(1.0).item() == 0.0\n"
            "x = torch.rand(20, 784)\n"
            "fit(VAE(latent_dim=2, hidden=(8,)), x, epochs=1, batch_size=10, progress=False)\n"
            "a = flushed()\nruntime.flush_denormals_in_this_process()\n"
            "fit(VAE(latent_dim=2, hidden=(8,)), x, epochs=1, batch_size=10, progress=False)\n"
            "print(a, flushed())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
