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

NO_DECAY_NAMES = ("pos_embed", "cls_token", "mask_token", "position_embeddings", "token_type_embeddings")


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if param.ndim <= 1 or any(key in name for key in NO_DECAY_NAMES):
            no_decay.append(param)
        else:
            decay.append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


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


def adamw_warmup_cosine(module: L.LightningModule, model: nn.Module) -> dict:
    """``configure_optimizers`` of a task whose hparams hold lr, weight_decay, betas, warmup_fraction, min_lr_ratio."""
    hp = module.hparams
    optimizer = torch.optim.AdamW(
        param_groups(model, hp.weight_decay), lr=hp.lr, betas=tuple(hp.betas), fused=module.device.type == "cuda"
    )
    total = module.trainer.estimated_stepping_batches
    if total == float("inf"):
        raise ConfigError("the learning-rate schedule needs a length: set trainer.max_epochs or trainer.max_steps")
    scheduler = warmup_cosine(optimizer, max(1, int(total)), hp.warmup_fraction, hp.min_lr_ratio, time_fraction(module.trainer))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
