"""MultiTaskDataModule: several data modules (images and text) under task names, for co-training one encoder.

Batches:
    training     batches="all_tasks": {task: that task's batch} -- one batch of every task in each step
                 (the model sums their losses), through Lightning's ``CombinedLoader`` in "max_size_cycle"
                 mode: an epoch is the largest task's loader, smaller tasks start over when they run out.
                 batches="one_task": {task: batch} with one task per step, the tasks in turn, as many
                 rounds as the largest loader has batches (``RoundRobin``).
                 Either way each task's ``batch_size`` sets how much of it a step sees, so batch sizes in
                 proportion to the data sizes sample in proportion to size (every task passes once per
                 epoch), and equal batch sizes sample the tasks equally.
    val / test   one task's batch at a time ("sequential"), with ``dataloader_idx`` = the task's place in ``tasks``.
``contract`` is {task: that data module's DataContract}.

Not yet exact on resume: a resumed co-training run keeps the weights, optimiser and step, but its
interrupted epoch's data order starts afresh (the single-task modules continue theirs exactly).
Within one epoch, a smaller task that starts over repeats its order for that epoch.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import lightning as L
from lightning.pytorch.utilities import CombinedLoader

from ..config import DataContract
from ..errors import ConfigError
from .base import SplitDataModule


class RoundRobin:
    """{task: DataLoader} -> {task: batch}, one task per step in the tasks' order; a pass is as many rounds
    as the largest loader has batches, and a smaller loader starts over when it runs out."""

    def __init__(self, loaders: dict[str, Iterable]):
        self.loaders = loaders

    def __len__(self) -> int:
        return max(len(loader) for loader in self.loaders.values()) * len(self.loaders)

    def __iter__(self) -> Iterator[dict]:
        iterators = {name: iter(loader) for name, loader in self.loaders.items()}
        for _ in range(len(self) // len(self.loaders)):
            for name, loader in self.loaders.items():
                batch = next(iterators[name], None)
                if batch is None:
                    iterators[name] = iter(loader)
                    batch = next(iterators[name])
                yield {name: batch}


class MultiTaskDataModule(L.LightningDataModule):
    def __init__(self, tasks: dict[str, SplitDataModule], batches: str = "all_tasks"):
        """
        Args:
            tasks: Task name -> its data module (vit_bert.data.ImageDataModule or TextDataModule with their own
                settings, batch_size included). The names are the model's task names.
            batches: "all_tasks" (each training step takes one batch of every task; their losses are summed)
                or "one_task" (each step takes one task's batch, the tasks in turn).
        """
        super().__init__()
        if batches not in ("all_tasks", "one_task"):
            raise ConfigError(f"data.batches must be 'all_tasks' or 'one_task'; got {batches!r}")
        self.batches = batches
        if not tasks:
            raise ConfigError("data.tasks is empty: give at least one task, {name: {class_path: ..., init_args: {...}}}")
        for name, module in tasks.items():
            if not isinstance(module, SplitDataModule):
                raise ConfigError(f"data.tasks.{name} must be a vit_bert data module (ImageDataModule or TextDataModule); got {type(module).__name__}")
        self.tasks = dict(tasks)
        sizes = [module.hparams.batch_size for module in self.tasks.values()]
        self.hparams["batch_size"] = sum(sizes) if batches == "all_tasks" else sum(sizes) / len(sizes)  # samples per step, on average

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

    def train_dataloader(self) -> CombinedLoader | RoundRobin:
        loaders = {name: module.train_dataloader() for name, module in self.tasks.items()}
        return CombinedLoader(loaders, "max_size_cycle") if self.batches == "all_tasks" else RoundRobin(loaders)

    def val_dataloader(self) -> CombinedLoader:
        return CombinedLoader([module.val_dataloader() for module in self.tasks.values()], "sequential")

    def test_dataloader(self) -> CombinedLoader:
        return CombinedLoader([module.test_dataloader() for module in self.tasks.values()], "sequential")

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        if self.trainer is not None and self.trainer.training:
            return {name: self.tasks[name].on_after_batch_transfer(part, 0) for name, part in batch.items()}
        return self.tasks[self.task_names[dataloader_idx]].on_after_batch_transfer(batch, 0)

