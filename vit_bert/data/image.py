"""ImageDataModule: digits, CIFAR-10/100 or an ImageFolder tree, as in-memory uint8 batches.

Batches: {"images": (B, C, S, S) float, normalised, "labels": (B,) int64} once on the
device (augmentation runs in ``on_after_batch_transfer``, see ``augment.py``).
``contract`` tells the model what the data needs: classes, channels, image size, mean and std.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms.v2 import RandAugment

from ..config import DataContract
from ..errors import DataError
from .augment import BatchTransform
from .base import SplitDataModule
from .image_sources import ImageSplit, load_cifar, load_digits, load_folder
from .splits import with_validation

DATASETS = ("digits", "cifar10", "cifar100", "folder")


class InMemoryImages(Dataset):
    """Serves whole batches by index (``__getitems__``), optionally with per-image RandAugment."""

    def __init__(self, split: ImageSplit, per_image_transform=None):
        self.split = split
        self.per_image_transform = per_image_transform

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> dict:
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]) -> dict:
        index = torch.as_tensor(indices)
        images = self.split.images[index]
        if self.per_image_transform is not None:
            images = torch.stack([self.per_image_transform(image) for image in images])
        return {"images": images, "labels": self.split.labels[index]}


def _keep_batch(batch: dict) -> dict:
    return batch


class ImageDataModule(SplitDataModule):
    def __init__(
        self,
        dataset: str = "digits",
        root: str = "data",
        download: bool = True,
        image_size: int | None = None,
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        val_fraction: float = 0.1,
        crop_padding: int = 4,
        hflip: bool = True,
        randaugment: bool = False,
        skip_corrupt: bool = False,
        num_workers: int = 0,
        seed: int = 0,
    ):
        """
        Args:
            dataset: 'digits' (scikit-learn's 8x8 digits, offline), 'cifar10', 'cifar100' or 'folder' (ImageFolder layout).
            root: Where CIFAR is downloaded/found, or the folder holding train/, test/ (and optional val/).
            download: Download CIFAR into root when it is not there.
            image_size: Side the model sees; images are resized on the device. Default: the stored size.
            batch_size: Training batch size.
            eval_batch_size: Validation/test batch size (default: batch_size).
            val_fraction: Share of train held out for validation when there is no val split; 0 validates on test.
            crop_padding: Random-crop padding in pixels at the stored size (0 = no crop).
            hflip: Random horizontal flips (turn off for digits and text-like images).
            randaugment: Per-image RandAugment (torchvision) in the loader, before the batched crop/flip.
            skip_corrupt: Skip unreadable image files with a warning instead of stopping.
            num_workers: DataLoader worker processes (useful with randaugment).
            seed: Seed of the train/val split and of the training order (a fixed shuffle per epoch, resumable mid-epoch).
        """
        super().__init__()
        if dataset not in DATASETS:
            raise DataError(f"data.dataset must be one of {DATASETS}; got {dataset!r}")
        self.save_init_arguments()
        self.splits: dict[str, ImageSplit] | None = None
        self.class_names: list[str] = []
        self.transform: BatchTransform | None = None

    def load(self) -> None:
        if self.splits is not None:
            return
        hp = self.hparams
        if hp.dataset == "digits":
            splits, self.class_names = load_digits()
        elif hp.dataset == "folder":
            splits, self.class_names = load_folder(hp.root, hp.image_size, hp.skip_corrupt)
        else:
            splits, self.class_names = load_cifar(hp.dataset, hp.root, hp.download)
        if "test" not in splits:
            raise DataError(f"no test split found under data.root={hp.root!r}; expected a test/<class>/ folder")
        self.splits = splits = with_validation(splits, hp.val_fraction, hp.seed)
        train = splits["train"].images.float() / 255.0
        mean, std = train.mean(dim=(0, 2, 3)).tolist(), train.std(dim=(0, 2, 3)).tolist()
        stored = splits["train"].images.shape[-1]
        self.transform = BatchTransform(mean, std, hp.image_size or stored, hp.crop_padding, hp.hflip)

    @property
    def contract(self) -> DataContract:
        self.load()
        return DataContract(
            "image", list(self.class_names), in_chans=int(self.splits["train"].images.shape[1]), img_size=self.transform.image_size,
            mean=self.transform.mean.flatten().tolist(), std=self.transform.std.flatten().tolist(),
        )

    def setup(self, stage: str | None = None) -> None:
        self.load()

    def _loader(self, split: str, train: bool) -> DataLoader:
        per_image = RandAugment() if train and self.hparams.randaugment else None
        drop_last = train and len(self.splits[split]) > self.hparams.batch_size
        return self.make_loader(InMemoryImages(self.splits[split], per_image), train, _keep_batch, drop_last)

    def prepare_batch(self, batch: dict, training: bool) -> dict:
        return {**batch, "images": self.transform(batch["images"], train=training)}
