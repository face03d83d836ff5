"""What a resumed run needs beyond weights, optimizer, schedule and step (which Lightning restores):

``RandomState``: torch's CPU and CUDA generators, NumPy's and Python's, one set per rank, saved in
every checkpoint and put back when training resumes. Dropout, drop path and the batched crop/flip
all draw from torch's generator, so with the data order (``data.resumable``) the resumed run
computes what the uninterrupted run would have, bit for bit on a CPU.

``last_checkpoints``: last.ckpt after every validation and, optionally, every N steps, but never at an
epoch's last batch: Lightning 2.6 restores such a mid-step save at the epoch's end without advancing
its epoch counters, and a later checkpoint of that run would resume at the wrong batch. The
validation at the epoch's end writes last.ckpt right after anyway.

``LastOnStop``: schedulers send SIGTERM before they kill a job. Lightning stops at the next step
boundary after one; this callback then writes ``last.ckpt`` (train.py exits with ``PREEMPTED_EXIT``),
and ``--ckpt_path last`` continues exactly there. It also writes last.ckpt when max_steps or
max_time end a fit between two validations.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

log = logging.getLogger(__name__)

PREEMPTED_EXIT = 75  # EX_TEMPFAIL (sysexits.h): stopped on purpose, last.ckpt written, run again to resume


def collect_random_state() -> dict:
    """This process's generators, as tensors and plain numbers (checkpoints stay loadable with weights_only=True)."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached)],
        "python": random.getstate(),
    }


def restore_random_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


class RandomState(L.Callback):
    def __init__(self):
        self._pending: list[dict] | None = None

    def state_dict(self) -> dict:
        # Every rank builds the checkpoint; rank 0 writes it, with every rank's generators in it.
        states = [collect_random_state()]
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            states = [None] * dist.get_world_size()
            dist.all_gather_object(states, collect_random_state())
        return {"ranks": states}

    def load_state_dict(self, state_dict: dict) -> None:
        self._pending = state_dict.get("ranks")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Put back as late as possible: whatever ran between loading and the first resumed step
        # (sanity validation, loader set-up) does not move the generators the steps draw from.
        if not self._pending:
            return
        if trainer.global_rank < len(self._pending):
            restore_random_state(self._pending[trainer.global_rank])
        else:
            log.warning("the checkpoint holds the random state of %d rank(s); rank %d starts from its seed", len(self._pending), trainer.global_rank)
        self._pending = None


class LastOnStop(L.Callback):
    """Write last.ckpt where the run writes it when training stops between validations: on SIGTERM (Lightning
    stops at the next step boundary) and when max_steps or max_time ends the fit mid-epoch."""

    def _write(self, trainer: L.Trainer) -> Path | None:
        last = next((c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.filename == "last"), None)
        if last is None or last.dirpath is None:
            return None
        path = Path(last.dirpath) / f"last{ModelCheckpoint.FILE_EXTENSION}"
        trainer.save_checkpoint(path, weights_only=False)  # a full checkpoint: it is what --ckpt_path last resumes from
        return path

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException):
            path = self._write(trainer)
            if trainer.is_global_zero and path is not None:
                log.warning("SIGTERM: stopped after step %d; wrote %s", trainer.global_step, path)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(trainer)


class LastCheckpoint(ModelCheckpoint):
    """A ModelCheckpoint of its own type, so that a task's ``configure_callbacks()`` ModelCheckpoint does not replace it."""


class StepCheckpoint(LastCheckpoint):
    """``ModelCheckpoint(every_n_train_steps=N)`` that skips the epoch's last batch (see the module docstring)."""

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        if batch_idx + 1 >= trainer.num_training_batches:
            return
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


def last_checkpoints(every_n_steps: int | None) -> list[LastCheckpoint]:
    """last.ckpt after every validation (and every N steps): the state to resume from.

    Lightning 2.6 writes ModelCheckpoint(save_last=True)'s last.ckpt only when a top-k checkpoint was
    saved at that step, so after an epoch that did not improve val_acc it would hold an older state.
    A monitor-less checkpoint named "last" is rewritten every time instead; a second one, on a step
    trigger, rewrites the same file every N steps (one ModelCheckpoint cannot have both triggers)."""
    last = dict(filename="last", monitor=None, save_top_k=1, enable_version_counter=False)
    callbacks = [LastCheckpoint(**last)]
    if every_n_steps:
        callbacks.append(StepCheckpoint(**last, every_n_train_steps=every_n_steps))
    return callbacks
