"""AdamW parameter groups, the warmup + cosine learning-rate schedule, and both put together for a task.

Weight decay applies to weight matrices only: biases, LayerNorm weights,
position embeddings and the [CLS] token (all 1-D or listed by name) are not decayed,
as in BERT and DeiT.
"""

from __future__ import annotations

import math
from typing import Callable

import lightning as L
import torch
from lightning.pytorch.callbacks import Timer
from torch import nn

from ..errors import ConfigError
from ..layers.checks import check_bounds

NO_DECAY_NAMES = ("pos_embed", "cls_token", "mask_token", "position_embeddings", "token_type_embeddings")


BOUNDS = {  # setting -> (allowed, what is allowed); a task's own settings only where it has them
    "lr": (lambda v: v >= 0, ">= 0"), "weight_decay": (lambda v: v >= 0, ">= 0"),
    "warmup_fraction": (lambda v: 0 <= v < 1, "in [0, 1)"), "min_lr_ratio": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "betas": (lambda v: len(v) == 2 and all(0 <= b < 1 for b in v), "two numbers in [0, 1)"),
    "label_smoothing": (lambda v: 0 <= v < 1, "in [0, 1)"), "mixup_alpha": (lambda v: v >= 0, ">= 0"),
    "cutmix_alpha": (lambda v: v >= 0, ">= 0"),
}


def check_settings(hparams) -> None:
    """A task's numeric settings against ``BOUNDS``: one line naming the first one out of bounds, before anything is built."""
    check_bounds(hparams, BOUNDS, "model")


def param_groups(model: nn.Module, weight_decay: float, lr_by_prefix: dict[str, float] | None = None) -> list[dict]:
    """Decayed and undecayed parameters as AdamW groups; parameters whose names start with a key of
    ``lr_by_prefix`` get groups of their own with that learning rate (the others take the optimiser's)."""
    lr_by_prefix = lr_by_prefix or {}
    groups: dict[tuple[str | None, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        prefix = next((p for p in lr_by_prefix if name.startswith(p)), None)
        decayed = not (param.ndim <= 1 or any(key in name for key in NO_DECAY_NAMES))
        groups.setdefault((prefix, decayed), []).append(param)
    def group(prefix: str | None, decayed: bool) -> dict:
        return {"params": groups.get((prefix, decayed), []), "weight_decay": weight_decay if decayed else 0.0}

    result = [group(None, True), group(None, False)]  # always these two, possibly empty: callers unpack them
    result += [{**group(p, d), "lr": lr} for p, lr in lr_by_prefix.items() for d in (True, False) if (p, d) in groups]
    return result


def warmup_cosine(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_fraction: float = 0.05,
    min_lr_ratio: float = 0.0,
    time_fraction: Callable[[], float] | None = None,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup over the first ``warmup_fraction`` of training, then cosine decay to ``min_lr_ratio * lr``.

    Progress is steps done / ``total_steps``; with ``time_fraction`` (share of a wall-clock
    budget used, e.g. trainer.max_time) it is whichever is further along, so a run cut by
    its time budget still ends annealed.
    """

    def factor(step: int) -> float:
        progress = (step + 1) / total_steps
        if time_fraction is not None:
            progress = max(progress, time_fraction())
        progress = min(progress, 1.0)
        if progress < warmup_fraction:
            return progress / warmup_fraction
        cosine = 0.5 * (1 + math.cos(math.pi * (progress - warmup_fraction) / max(1e-8, 1 - warmup_fraction)))
        return min_lr_ratio + (1 - min_lr_ratio) * cosine

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def time_fraction(trainer: L.Trainer) -> Callable[[], float] | None:
    """Share of trainer.max_time used so far (a resumed run counts the saved time too), or None without a budget."""
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    if timer is None or timer.time_remaining() is None:
        return None

    def fraction() -> float:
        elapsed, remaining = timer.time_elapsed(), timer.time_remaining()
        return elapsed / max(1e-6, elapsed + remaining)

    return fraction


def adamw_warmup_cosine(module: L.LightningModule, model: nn.Module, lr_by_prefix: dict[str, float] | None = None) -> dict:
    """``configure_optimizers`` of a task whose hparams hold lr, weight_decay, betas, warmup_fraction, min_lr_ratio;
    ``lr_by_prefix`` gives some parameters (by name prefix) another peak learning rate."""
    hp = module.hparams
    optimizer = torch.optim.AdamW(
        param_groups(model, hp.weight_decay, lr_by_prefix), lr=hp.lr, betas=tuple(hp.betas), fused=module.device.type == "cuda"
    )
    total = module.trainer.estimated_stepping_batches
    if total == float("inf"):
        raise ConfigError("the learning-rate schedule needs a length: set trainer.max_epochs or trainer.max_steps")
    scheduler = warmup_cosine(optimizer, max(1, int(total)), hp.warmup_fraction, hp.min_lr_ratio, time_fraction(module.trainer))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
