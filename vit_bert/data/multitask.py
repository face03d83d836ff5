"""MultiTaskDataModule: several data modules (images and text) under task names, for co-training one encoder.

Batches:
    training     {task: that task's batch} -- one batch of every task in each step, through Lightning's
                 ``CombinedLoader`` in "max_size_cycle" mode: an epoch is the largest task's loader,
                 smaller tasks start over when they run out. Each task's ``batch_size`` sets how much
                 of it a step sees, so batch sizes in proportion to the data sizes sample in
                 proportion to size (every task passes once per epoch), and equal batch sizes sample
                 the tasks equally.
    val / test   one task's batch at a time ("sequential"), with ``dataloader_idx`` = the task's place in ``tasks``.
``contract`` is {task: that data module's DataContract}.

Not yet exact on resume: a resumed co-training run keeps the weights, optimiser and step, but its
interrupted epoch's data order starts afresh (the single-task modules continue theirs exactly).
Within one epoch, a smaller task that starts over repeats its order for that epoch.
"""

from __future__ import annotations

import lightning as L
from lightning.pytorch.utilities import CombinedLoader

from ..config import DataContract
from ..errors import ConfigError
from .base import SplitDataModule


class MultiTaskDataModule(L.LightningDataModule):
    def __init__(self, tasks: dict[str, SplitDataModule]):
        """
        Args:
            tasks: Task name -> its data module (vit_bert.data.ImageDataModule or TextDataModule with their own
                settings, batch_size included). The names are the model's task names.
        """
        super().__init__()
        if not tasks:
            raise ConfigError("data.tasks is empty: give at least one task, {name: {class_path: ..., init_args: {...}}}")
        for name, module in tasks.items():
            if not isinstance(module, SplitDataModule):
                raise ConfigError(f"data.tasks.{name} must be a vit_bert data module (ImageDataModule or TextDataModule); got {type(module).__name__}")
        self.tasks = dict(tasks)
        self.hparams["batch_size"] = sum(module.hparams.batch_size for module in self.tasks.values())  # samples per step, all tasks

    @property
    def task_names(self) -> list[str]:
        return list(self.tasks)

    @property
    def contract(self) -> dict[str, DataContract]:
        return {name: module.contract for name, module in self.tasks.items()}

    def setup(self, stage: str | None = None) -> None:
        for name, module in self.tasks.items():
            module.trainer = self.trainer
            module.tokenizer_file_name = f"tokenizer.{name}.json"  # text tasks: one file each in the run's folder
            module.setup(stage)

    def train_dataloader(self) -> CombinedLoader:
        return CombinedLoader({name: module.train_dataloader() for name, module in self.tasks.items()}, "max_size_cycle")

    def val_dataloader(self) -> CombinedLoader:
        return CombinedLoader([module.val_dataloader() for module in self.tasks.values()], "sequential")

    def test_dataloader(self) -> CombinedLoader:
        return CombinedLoader([module.test_dataloader() for module in self.tasks.values()], "sequential")

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        if self.trainer is not None and self.trainer.training:
            return {name: self.tasks[name].on_after_batch_transfer(part, 0) for name, part in batch.items()}
        return self.tasks[self.task_names[dataloader_idx]].on_after_batch_transfer(batch, 0)

