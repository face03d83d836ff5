"""Image datasets decoded once into memory as uint8 tensors.

Every loader returns ``ImageSplit``s: images (N, C, H, W) uint8, labels (N,) int64,
and the class names in label order. Augmentation then runs on whole batches on
the training device (see ``augment.py``), so a 2-core machine spends its time
on the model, not on per-image PIL work.

Sources: scikit-learn's 8x8 digits (ships inside the package: works offline),
CIFAR-10/100 through torchvision (downloaded into ``root``), and any folder in
torchvision's ImageFolder layout (``root/train/<class>/*``, ``root/test/<class>/*``,
optional ``root/val/<class>/*``).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms.v2 import functional as TF

from ..errors import DataError
from .splits import split_off

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


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


def _class_folders(split_dir: Path) -> list[Path]:
    return sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def decode_file(path: Path, image_size: int | None, channels: int = 3) -> torch.Tensor:
    """An image file -> (channels, S, S) uint8. Grey, palette and RGBA files are converted, so channels always match."""
    image = decode_image(str(path), mode=ImageReadMode.GRAY if channels == 1 else ImageReadMode.RGB)
    if image_size is not None and tuple(image.shape[1:]) != (image_size, image_size):
        image = TF.resize(image, [image_size, image_size], antialias=True)
    return image


def load_folder_split(
    split_dir: Path, class_names: list[str] | None, image_size: int | None, skip_corrupt: bool
) -> tuple[ImageSplit, list[str]]:
    """Decode ``split_dir/<class>/*``. Labels follow ``class_names`` (the train split's) when given."""
    folders = _class_folders(split_dir)
    if not folders:
        raise DataError(f"{split_dir} has no class folders; expected {split_dir}/<class name>/<image files>")
    names = [f.name for f in folders]
    if class_names is None:
        class_names = names
    unknown = sorted(set(names) - set(class_names))
    if unknown:
        raise DataError(f"{split_dir} has classes not seen in train/: {unknown}; expected a subset of {class_names}")
    images, labels, corrupt, sizes = [], [], [], set()
    for folder in folders:
        label = class_names.index(folder.name)
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                image = decode_file(path, image_size)
            except Exception as err:
                if not skip_corrupt:
                    raise DataError(
                        f"cannot read image {path} ({err}); remove it, or set --data.skip_corrupt true to skip unreadable files"
                    ) from None
                corrupt.append(path)
                continue
            sizes.add(tuple(image.shape[1:]))
            images.append(image)
            labels.append(label)
    if corrupt:
        log.warning("skipped %d unreadable image(s) in %s, e.g. %s", len(corrupt), split_dir, corrupt[0])
    if not images:
        raise DataError(f"{split_dir} has class folders but no readable images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if len(sizes) > 1:
        raise DataError(
            f"images in {split_dir} have different sizes ({len(sizes)} distinct, e.g. {sorted(sizes)[:3]}); "
            f"set --data.image_size to resize them all"
        )
    return ImageSplit(torch.stack(images), torch.tensor(labels, dtype=torch.long)), class_names


def load_folder(root: str, image_size: int | None, skip_corrupt: bool) -> tuple[dict[str, ImageSplit], list[str]]:
    root_path = Path(root)
    if not (root_path / "train").is_dir():
        raise DataError(f"no train/ folder in data.root={root!r}; expected {root}/train/<class>/*.jpg (and test/, optional val/)")
    splits = {}
    train, class_names = load_folder_split(root_path / "train", None, image_size, skip_corrupt)
    splits["train"] = train
    for split in ("val", "test"):
        if (root_path / split).is_dir():
            splits[split], _ = load_folder_split(root_path / split, class_names, image_size, skip_corrupt)
    return splits, class_names
