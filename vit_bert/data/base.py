"""What both data modules share: train/val/test loaders, the data contract, and the resumable training order.

The training loader draws from a ``ResumableSampler``; this module counts the samples the training
loop takes (``on_after_batch_transfer``) and stores the count, the epoch and what the order depends
on in every checkpoint (``state_dict``), so that ``--ckpt_path`` continues the interrupted epoch
with exactly the batches the uninterrupted run would have seen. A resume whose order cannot be the
same (another data set, seed, batch size or number of devices) goes on with one warning naming what differs.
A prepared folder's training loader (``make_stream_loader``) is LitData's: its position goes into the checkpoint
in place of the sampler's count, under the same order key and with the same warning.
"""

from __future__ import annotations

import inspect
import logging
import os
from typing import Callable

import lightning as L
import torch
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters
from torch.utils.data import DataLoader, Dataset

from ..checkpoint_format import DataPosition
from ..config import DataContract
from ..layers.checks import check_bounds
from .resumable import ResumableSampler
from .streams import TakenPosition, stream_loader

log = logging.getLogger(__name__)

POSITIVE = (lambda v: v > 0, "> 0")
BOUNDS = {  # a data module's numeric settings, where it has them
    "batch_size": POSITIVE, "eval_batch_size": POSITIVE, "val_fraction": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "num_workers": (lambda v: v >= 0, ">= 0"), "max_length": (lambda v: v >= 2, ">= 2 ([CLS] and [SEP])"),
    "tokenizer_vocab_size": POSITIVE, "image_size": POSITIVE, "crop_padding": (lambda v: v >= 0, ">= 0"),
    "max_image_pixels": POSITIVE, "crop_pct": (lambda v: 0 < v <= 1, "in (0, 1]"),
}  # the augmentation's own settings (scale, ratio, flips, colour jitter, erasing) are image_transforms.Augmentation's


class SplitDataModule(L.LightningDataModule):
    """Subclasses set ``self.splits`` (split name -> a split with ``len``, ``subset`` and ``fingerprint``) and
    implement ``_loader(split, train)`` with ``make_loader``; ``prepare_batch`` runs on the device."""

    train_sampler: ResumableSampler | None = None
    train_stream: TakenPosition | None = None
    _resume_state: DataPosition | None = None
    _fingerprint: int | None = None

    def save_init_arguments(self) -> None:
        """``save_hyperparameters()`` for the calling ``__init__``'s own arguments.

        LightningCLI hands every data module it builds the hyperparameters of the config's ``data`` entry;
        a data module inside another (MultiTaskDataModule's tasks) would take its parent's. Those are set
        aside here, and the constructor's arguments are read from its frame instead."""
        given = _given_hyperparameters.get()
        own = set(inspect.signature(type(self).__init__).parameters)
        foreign = given is not None and bool(set(given) - own - {"_class_path", "_instantiator"})
        token = _given_hyperparameters.set(None) if foreign else None
        try:
            self.save_hyperparameters(frame=inspect.currentframe().f_back)
        finally:
            if token is not None:
                _given_hyperparameters.reset(token)

    def check_settings(self) -> None:
        """The saved settings against ``BOUNDS``: one line naming the first one out of bounds, before any data is read."""
        check_bounds(self.hparams, BOUNDS, "data")

    def _loader(self, split: str, train: bool) -> DataLoader:
        raise NotImplementedError

    @property
    def contract(self) -> DataContract:
        """What the model must match and what predict needs to read inputs as training did."""
        raise NotImplementedError

    def prepare_batch(self, batch: dict, training: bool) -> dict:
        """The batch once on the device (augmentation, normalisation); as it is by default."""
        return batch

    @property
    def loader_workers(self) -> int:
        """DataLoader worker processes."""
        return self.hparams.num_workers

    def make_loader(self, dataset: Dataset, train: bool, collate_fn: Callable | None, drop_last: bool = False,
                    sampler: type[ResumableSampler] = ResumableSampler) -> DataLoader:
        """``collate_fn`` None: torch's default collation. ``sampler``: the training order's class."""
        hp = self.hparams
        # The loader's own generator: creating an iterator then draws no number from torch's global
        # generator, which dropout, drop path and augmentation share and checkpoints restore.
        generator = torch.Generator().manual_seed(hp.seed)
        workers = self.loader_workers
        options = dict(num_workers=workers, persistent_workers=workers > 0, collate_fn=collate_fn, generator=generator)
        if not train:
            return DataLoader(dataset, batch_size=hp.eval_batch_size or hp.batch_size, shuffle=False, **options)
        trainer = self.trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        self.train_sampler = sampler(dataset, hp.seed, world, rank)
        if self._resume_state is not None:
            self._resume(self.train_sampler, self._resume_state)
        return DataLoader(dataset, batch_size=hp.batch_size, sampler=self.train_sampler, drop_last=drop_last, **options)

    def make_stream_loader(self, dataset, train: bool, collate_fn: Callable):
        """A prepared folder's loader over a LitData ``StreamingDataset`` (which shuffles and splits over ranks itself)."""
        hp = self.hparams
        loader = stream_loader(dataset, hp.batch_size if train else hp.eval_batch_size or hp.batch_size, self.loader_workers, collate_fn,
                               hp.seed)
        if not train:
            return loader
        self.train_stream = TakenPosition(loader)
        position = self._resume_state
        if position is not None and not position.in_shards:
            log.warning("the checkpoint's data position is in a data folder, not in a prepared folder's shards: the epoch starts afresh")
        elif position is not None and not self._differs(position) & {"batch_size", "devices", "data"}:
            # Another number of loader workers: LitData's elastic resume (no sample twice, in another order).
            self.train_stream.resume(position.stream, dataset)
        return self.train_stream

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        training = self.trainer is not None and self.trainer.training
        if training and self.train_stream is not None:
            self.train_stream.took()
        elif training and self.train_sampler is not None:
            self.train_sampler.consumed += len(batch["labels"])
        return self.prepare_batch(batch, training)

    def _order_key(self) -> dict:
        """What the training order depends on, besides the epoch (from shards, the loader workers too: each reads its own part)."""
        trainer = self.trainer
        if self._fingerprint is None:  # once: a checksum of all training pixels is not free
            self._fingerprint = self.splits["train"].fingerprint()
        key = {
            "data": self._fingerprint,
            "seed": os.environ.get("PL_GLOBAL_SEED"),
            "batch_size": self.hparams.batch_size,
            "devices": trainer.world_size if trainer is not None else 1,
        }
        return {**key, "workers": self.loader_workers} if self.train_stream is not None else key

    def state_dict(self) -> dict:
        if self.train_stream is not None and self.train_stream.position is not None:
            return DataPosition(self._order_key(), stream=self.train_stream.position).to_state()
        if self.train_sampler is None:
            return {}
        return DataPosition(self._order_key(), self.train_sampler.epoch, self.train_sampler.consumed).to_state()

    def load_state_dict(self, state: dict) -> None:
        self._resume_state = DataPosition.from_state(state)

    def _differs(self, position: DataPosition) -> set[str]:
        """What the saved position's order depended on that is not so now; said in one warning."""
        saved, now = position.order, self._order_key()
        names = {"data": "the training data", "seed": "seed_everything", "batch_size": "data.batch_size", "devices": "the number of devices",
                 "workers": "data.num_workers"}
        differs = [k for k in now if saved.get(k) != now[k]]
        if differs:
            log.warning("resuming with another %s: the run goes on, but not bit for bit as the interrupted one would have",
                        ", ".join(f"{names[k]} ({saved.get(k)} -> {now[k]})" if k != "data" else names[k] for k in differs))
        return set(differs)

    def _resume(self, sampler: ResumableSampler, position: DataPosition) -> None:
        if position.in_shards:
            log.warning("the checkpoint's data position is in a prepared folder's shards, not in this data: the epoch starts afresh")
        elif not self._differs(position) & {"batch_size", "devices"}:
            # (another batch size or number of devices: the count taken means another place in another order)
            sampler.resume(position.epoch, position.consumed)
