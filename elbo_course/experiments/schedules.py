"""What a budget of an experiment trains and evaluates: the ``Schedule`` dataclass, one row of an
experiment's ``SCHEDULES`` table, and the named learning-rate schedules it can ask for."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Schedule:
    """What one budget of an experiment trains and evaluates (one row of its ``SCHEDULES`` table).

    Training: ``epochs`` over the first ``train_images`` training images, Adam (``lr``, ``adam_eps``) at
    ``batch_size``, ``lr_schedule`` None or a named schedule of the experiment. Evaluation: the first
    ``test_images`` fixed-binarized test images (training ``precision`` "fp32" or "bf16" autocast; evaluation
    is always float32/float64); ``eval_samples`` Monte Carlo draws per estimate (importance
    samples per image, or draws z ~ q(z) per surgery term), ``recon_samples`` reconstruction draws per image,
    ``offset_images`` (0: none) the test images over which a cheaper bound is compared with its value on the
    first ``test_images`` (how much easier the subset is than the whole test set),
    ``eval_ks`` the K of the reported L_K. ``models`` lists the model ids the budget trains.
    """

    epochs: int
    train_images: int
    test_images: int
    eval_samples: int
    models: tuple[str, ...]
    batch_size: int = 100
    lr: float = 1e-3
    adam_eps: float = 1e-8
    lr_schedule: str | None = None
    precision: str = "fp32"
    offset_images: int = 0
    recon_samples: int = 2
    eval_ks: tuple[int, ...] = ()

    def lr_at(self) -> Callable[[int], float] | None:
        """The ``fit(lr_schedule=...)`` function of ``lr_schedule``: None (constant ``lr``); "decay10", a
        geometric decay from ``lr`` at the first epoch to ``lr``/10 at the last, lr·10^(-e/(E-1)); "burda",
        Burda et al.'s stages (lr · 10^(-i/7) for 3^i epochs, i = 0..7)."""
        if self.lr_schedule is None:
            return None
        if self.lr_schedule == "decay10":
            last = max(1, self.epochs - 1)
            return lambda epoch: self.lr * 10 ** (-min(epoch, last) / last)
        if self.lr_schedule == "burda":
            return _burda_lr(self.lr)
        raise ValueError(f"Unknown lr_schedule {self.lr_schedule!r}: use None, 'decay10' or 'burda'.")

    def as_config(self) -> dict[str, Any]:
        """The fields as plain JSON data (tuples become lists), for ``config(budget)``."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}


def _burda_lr(lr: float) -> Callable[[int], float]:
    """Burda et al.'s schedule: stage i = 0..7 lasts 3^i epochs with learning rate lr · 10^(-i/7)."""
    def at(epoch: int) -> float:
        stage, end = 0, 1
        while epoch >= end and stage < 7:
            stage += 1
            end += 3 ** stage
        return lr * 10 ** (-stage / 7)

    return at
