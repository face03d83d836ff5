"""What both data modules share: the DataError type, and train/val/test loaders from one ``_loader(split, train)``."""

from __future__ import annotations

import lightning as L
from torch.utils.data import DataLoader


class DataError(ValueError):
    """A problem with the user's data: train.py prints the message without a traceback."""


class SplitDataModule(L.LightningDataModule):
    def _loader(self, split: str, train: bool) -> DataLoader:
        raise NotImplementedError

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
