"""The in-memory image path: data sets decoded once into uint8 tensors.

Every loader returns ``ImageSplit``s: images (N, C, H, W) uint8, labels (N,) int64,
and the class names in label order. Augmentation then runs on whole batches on
the training device (see ``augment.py``), so a 2-core machine spends its time
on the model, not on per-image PIL work.

Sources: scikit-learn's 8x8 digits (ships inside the package: works offline),
CIFAR-10/100 through torchvision (downloaded into ``root``), and the files of any
``ImageFiles`` split (``image_files.py``: folders, tables, Hugging Face) when they are
small enough to be faster this way than streamed (``ImageDataModule`` decides).
"""

from __future__ import annotations

import logging
import os
import zlib
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms.v2 import functional as TF

from ..errors import DataError
from .image_files import ImageFiles
from .image_reading import decode_uint8
from .splits import split_off

log = logging.getLogger(__name__)

PARALLEL_FROM = 2000  # files: fewer decode faster in this process than worker processes start


@dataclass
class ImageSplit:
    images: torch.Tensor  # (N, C, H, W) uint8
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> "ImageSplit":
        return ImageSplit(self.images[index], self.labels[index])

    def fingerprint(self) -> int:
        """A checksum of the pixels and labels: another data set gives another number."""
        return zlib.crc32(self.labels.numpy().tobytes(), zlib.crc32(self.images.contiguous().numpy().tobytes()))


def load_digits() -> tuple[dict[str, ImageSplit], list[str]]:
    """scikit-learn's 1,797 8x8 grey digits (values 0..16), scaled to uint8; a fixed 80/20 train/test split."""
    from sklearn.datasets import load_digits as sk_digits

    data = sk_digits()
    images = torch.from_numpy(data.images * (255.0 / 16.0)).round().to(torch.uint8)[:, None]
    full = ImageSplit(images, torch.from_numpy(data.target).long())
    train, test = split_off(full, 0.2, seed=1234)
    return {"train": train, "test": test}, [str(d) for d in range(10)]


def load_cifar(name: str, root: str, download: bool) -> tuple[dict[str, ImageSplit], list[str]]:
    from torchvision import datasets

    cls = {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]
    splits = {}
    for split, train in (("train", True), ("test", False)):
        try:
            ds = cls(root, train=train, download=download)
        except Exception as err:  # torchvision raises RuntimeError (missing) or URLError/OSError (offline)
            raise DataError(
                f"could not load {name} from data.root={root!r} ({type(err).__name__}: {err}). "
                f"Point --data.root at a folder holding torchvision's {cls.base_folder}/, or use "
                f"--data.dataset folder with --data.root at an ImageFolder copy (train/<class>/, test/<class>/)"
            ) from None
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        splits[split] = ImageSplit(images, torch.tensor(ds.targets, dtype=torch.long))
    return splits, list(ds.classes)


def to_square(image: torch.Tensor, image_size: int) -> torch.Tensor:
    """(C, H, W) uint8 -> (C, S, S): the short side resized to S, then the center S x S (the aspect ratio is kept)."""
    if tuple(image.shape[1:]) == (image_size, image_size):
        return image
    return TF.center_crop(TF.resize(image, image_size, antialias=True), [image_size, image_size])


class _Decoded(Dataset):
    """Sample i of ``files`` -> (i, (C, S, S) uint8 array or None, the error or None), decoded in a DataLoader worker. A
    NumPy array travels back pickled; tens of thousands of small tensors would each take a file descriptor."""

    def __init__(self, files: ImageFiles, image_size: int | None, channels: int, max_pixels: int | None):
        self.files, self.image_size, self.channels, self.max_pixels = files, image_size, channels, max_pixels

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor | None, str | None]:
        try:
            image = decode_uint8(self.files.encoded(i), self.channels, self.max_pixels)
        except DataError as err:
            return i, None, str(err)
        return i, (to_square(image, self.image_size) if self.image_size is not None else image).numpy(), None


def load_into_memory(files: ImageFiles, image_size: int | None, channels: int, skip_corrupt: bool, max_pixels: int | None,
                     where: str) -> ImageSplit:
    """Decode every file of ``files`` into one (N, C, H, W) uint8 tensor (resized and center-cropped to ``image_size`` if
    given), one worker process per core."""
    workers = min(8, len(os.sched_getaffinity(0))) if len(files) >= PARALLEL_FROM else 0
    loader = DataLoader(_Decoded(files, image_size, channels, max_pixels), batch_size=256, num_workers=workers, collate_fn=list)
    images, keep, corrupt, sizes = [], [], [], set()
    for chunk in loader:
        for i, image, error in chunk:
            if error is not None:
                if not skip_corrupt:
                    raise DataError(f"{error}; remove it, or set --data.skip_corrupt true to skip unreadable files")
                corrupt.append(files.name(i))
                continue
            sizes.add(tuple(image.shape[1:]))
            images.append(torch.from_numpy(image))
            keep.append(i)
    if corrupt:
        log.warning("skipped %d unreadable image(s) in %s, e.g. %s", len(corrupt), where, corrupt[0])
    if not images:
        raise DataError(f"{where} has no readable images")
    if len(sizes) > 1:
        raise DataError(
            f"images in {where} have different sizes ({len(sizes)} distinct, e.g. {sorted(sizes)[:3]}); set --data.image_size "
            "to resize and center-crop them in memory, or use --data.pipeline stream (each image cropped to the model's size as it is read)"
        )
    return ImageSplit(torch.stack(images), files.labels[torch.tensor(keep, dtype=torch.long)])
