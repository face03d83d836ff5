"""What both data modules share: train/val/test loaders from one ``_loader(split, train)``, and the data contract."""

from __future__ import annotations

import lightning as L
from torch.utils.data import DataLoader

from ..config import DataContract


class SplitDataModule(L.LightningDataModule):
    def _loader(self, split: str, train: bool) -> DataLoader:
        raise NotImplementedError

    @property
    def contract(self) -> DataContract:
        """What the model must match and what predict needs to read inputs as training did."""
        raise NotImplementedError

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
