"""The Ray Tune training function: train one cell with NAS-Bench-201's recipe, report every epoch.

:func:`train_cell` is a Tune function trainable. Its ``config`` holds ``arch`` (the cell string),
``settings`` (a :class:`TrainSettings` as a dict) and the searcher's bookkeeping (``naswot_trial``,
``phase``, ``parent``). Recipe (NAS-Bench-201): SGD with Nesterov momentum 0.9, learning rate 0.1
with cosine decay to 0 over all iterations, weight decay 5e-4, batch 256, random crop with 4-pixel
padding and horizontal flip, cross-entropy.

Every epoch it reports (``ray.tune.report``) validation accuracy (%) and loss, training loss and
accuracy, the epoch's seconds, and the NASWOT score of the network at that epoch (scored on a deep
copy, because the score runs the network in train mode and would update its BatchNorm statistics),
with a checkpoint written to a temporary directory first. A restarted trial (failure, preemption,
``Tuner.restore``) continues from ``tune.get_checkpoint()``; a trial restored from its final
checkpoint trains nothing and re-reports its final metrics with ``replayed=True``.

The device is whatever Tune gave the trial: CUDA when the trial holds a GPU (``ray.get_gpu_ids()``)
and torch sees one, else the CPU. ``CUDA_VISIBLE_DEVICES`` is never set here.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scoring.training_data import DataSpec, augment, load_training_data, normalise
from search_spaces.core.errors import NaswotError

CHECKPOINT_FILE = "state.pt"
METRIC = "valid_acc"


class TrainingDivergedError(NaswotError, FloatingPointError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainSettings:
    """How every trial of a run trains; validated on construction (``ValueError``).

    ``space_options`` go to :func:`search_spaces.get_space` (e.g. ``{"channels": 4,
    "cells_per_stage": 1}`` for a tiny NB201 network). ``data`` chooses the images.
    """

    space: str = "nb201"
    space_options: dict[str, Any] = field(default_factory=dict)
    data: DataSpec = field(default_factory=DataSpec)
    epochs: int = 12
    batch_size: int = 256
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    init_seed: int = 0
    score_batch: int = 64  # images of the fixed minibatch the NASWOT score uses each epoch
    eval_batch: int = 512

    def __post_init__(self) -> None:
        if isinstance(self.data, dict):
            object.__setattr__(self, "data", DataSpec(**self.data))
        if self.epochs < 1 or self.batch_size < 1 or self.score_batch < 2 or self.eval_batch < 1:
            raise ValueError(
                f"epochs, batch_size, eval_batch must be >= 1 and score_batch >= 2, got {self.epochs}, "
                f"{self.batch_size}, {self.eval_batch}, {self.score_batch}"
            )
        if self.lr <= 0 or self.weight_decay < 0 or not 0 <= self.momentum < 1:
            raise ValueError(f"bad optimiser settings lr={self.lr}, momentum={self.momentum}, wd={self.weight_decay}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSettings:
        return cls(**data)


def trial_device():
    """The torch device of this trial: CUDA when Tune gave the trial a GPU and torch sees one."""
    import torch

    try:
        import ray

        gpus = ray.get_gpu_ids() if ray.is_initialized() else []
    except (ImportError, RuntimeError):  # outside a Ray worker
        gpus = []
    if gpus and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def _seed_int(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)


def _evaluate(model, images, labels, dataset: str, batch: int) -> tuple[float, float]:
    """(accuracy %, mean loss) of ``model`` in eval mode on uint8 ``images``."""
    import torch

    model.eval()
    correct, loss_sum = 0, 0.0
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = normalise(images[start : start + batch], dataset)
            y = labels[start : start + batch]
            logits = model(x)
            loss_sum += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
    return 100.0 * correct / len(images), loss_sum / len(images)


def train_cell(config: dict[str, Any]) -> None:
    """Tune function trainable: train ``config["arch"]`` and report every epoch (see the module doc).

    Raises:
        TrainingDivergedError: the training loss is not finite (Tune records the trial as errored).
        InvalidArchitectureError / UnknownNameError: a bad cell or setting (from the space or data).
    """
    import torch
    from ray import tune

    from scoring.cells import build_seeded
    from scoring.naswot import naswot_score
    from search_spaces import get_space

    settings = TrainSettings.from_dict(config["settings"])
    arch_text = str(config["arch"])
    device = trial_device()
    data = load_training_data(settings.data)
    space = get_space(settings.space, **settings.space_options)
    arch = space.parse(arch_text)
    model = build_seeded(space, arch, data.num_classes, settings.init_seed, device)
    train_x = torch.from_numpy(data.train_images).to(device)
    train_y = torch.from_numpy(data.train_labels).to(device)
    valid_x = torch.from_numpy(data.valid_images).to(device)
    valid_y = torch.from_numpy(data.valid_labels).to(device)
    pick = np.random.default_rng(np.random.SeedSequence([settings.data.seed, 0x5C0E]))
    score_idx = np.sort(pick.choice(len(train_x), size=min(settings.score_batch, len(train_x)), replace=False))
    score_images = normalise(train_x[torch.from_numpy(score_idx).to(device)], data.dataset)
    steps_per_epoch = math.ceil(len(train_x) / settings.batch_size)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=settings.lr,
        momentum=settings.momentum,
        nesterov=settings.nesterov,
        weight_decay=settings.weight_decay,
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs * steps_per_epoch)
    generator = torch.Generator(device=device)
    generator.manual_seed(_seed_int(settings.init_seed, int(config.get("naswot_trial", 0)), 0x7A1))

    start_epoch, score_init = 0, math.nan
    last: dict[str, Any] = {}
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as directory:
            state = torch.load(Path(directory) / CHECKPOINT_FILE, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        generator.set_state(state["generator"].cpu() if device.type == "cpu" else state["generator"])
        start_epoch, score_init, last = int(state["epoch"]), float(state["score_init"]), dict(state["last"])
    else:
        score_init = naswot_score(copy.deepcopy(model), score_images)
    attempt = uuid.uuid4().hex[:12]

    if start_epoch >= settings.epochs:  # restored from the final checkpoint: nothing left to train
        tune.report({**last, "replayed": True, "attempt": attempt})
        return

    for epoch in range(start_epoch + 1, settings.epochs + 1):
        began = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_x), generator=generator, device=device)
        loss_sum, correct = 0.0, 0
        for step in range(steps_per_epoch):
            idx = order[step * settings.batch_size : (step + 1) * settings.batch_size]
            x = normalise(augment(train_x[idx], generator), data.dataset)
            y = train_y[idx]
            logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            value = float(loss.detach())
            if not math.isfinite(value):
                raise TrainingDivergedError(f"training loss of {arch_text} is {value} at epoch {epoch}")
            loss_sum += value * len(idx)
            correct += int((logits.detach().argmax(1) == y).sum())
        valid_acc, valid_loss = _evaluate(model, valid_x, valid_y, data.dataset, settings.eval_batch)
        epoch_s = time.perf_counter() - began
        scored = time.perf_counter()
        score = naswot_score(copy.deepcopy(model), score_images)
        score_s = time.perf_counter() - scored
        last = {
            METRIC: valid_acc,
            "valid_loss": valid_loss,
            "train_loss": loss_sum / len(train_x),
            "train_acc": 100.0 * correct / len(train_x),
            "epoch": epoch,
            "epoch_s": epoch_s,
            "score": score,
            "score_s": score_s,
            "score_init": score_init,
            "arch": arch_text,
            "naswot_trial": int(config.get("naswot_trial", -1)),
            "device": str(device),
            "final": epoch == settings.epochs,
        }
        with tempfile.TemporaryDirectory(prefix="naswot-ckpt-") as directory:
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "generator": generator.get_state(),
                    "epoch": epoch,
                    "score_init": score_init,
                    "last": last,
                },
                Path(directory) / CHECKPOINT_FILE,
            )
            tune.report(
                {**last, "replayed": False, "attempt": attempt, "resumed_from": start_epoch},
                checkpoint=tune.Checkpoint.from_directory(directory),
            )
