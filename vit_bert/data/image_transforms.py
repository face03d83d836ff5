"""Per-image transforms from timm, for the streamed path and for reading new images (predict, viz, explore).

    eval_crop(contract)                     PIL image -> (C, S, S) uint8: timm's eval resize and crop, before normalising
    train_transform(contract, augmentation) PIL image -> (C, S, S) float, normalised: timm's training augmentation

Eval follows the contract's data config, as timm's ``resolve_data_config`` + ``create_transform`` do: resize the short
side (``crop_mode`` 'squash': the whole image, to a square) to ``img_size / crop_pct`` with its ``interpolation``, center crop
``img_size``; normalising with its mean and std
(``augment.BatchTransform``, per batch) then gives exactly timm's tensors. The aspect ratio is kept. A contract without
``crop_pct`` (checkpoints from before it was recorded, whose folders were read squashed to a square) is read as it
was trained: resized to ``img_size`` x ``img_size``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from timm.data import create_transform
from timm.data.transforms import str_to_interp_mode
from torchvision import transforms

from ..config import DataContract
from ..errors import ConfigError


@dataclass
class Augmentation:
    """The training augmentation, in timm's ``create_transform`` terms."""

    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: float = 0.5
    color_jitter: float = 0.4
    auto_augment: str | None = None
    re_prob: float = 0.0

    def __post_init__(self):
        low, high = self.scale
        if not 0 < low <= high <= 1:
            raise ConfigError(f"data.scale must be two fractions of the image area, 0 < low <= high <= 1; got {list(self.scale)}")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ConfigError(f"data.ratio must be two aspect ratios, 0 < low <= high; got {list(self.ratio)}")
        for name in ("hflip", "re_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"data.{name} is a probability in [0, 1]; got {getattr(self, name)}")
        if self.color_jitter < 0:
            raise ConfigError(f"data.color_jitter must be >= 0; got {self.color_jitter}")
        if self.auto_augment is not None:
            # timm skips a part it cannot parse ('rand-zz' is plain 'rand'): each part after the name is a key and a number
            bad = [part for part in self.auto_augment.split("-")[1:] if not re.fullmatch(r"[a-z]+\d+(\.\d+)?", part)]
            if bad:
                raise ConfigError(f"data.auto_augment={self.auto_augment!r}: {bad[0]!r} is not a timm policy setting (a key and a "
                                  "number, e.g. m9, mstd0.5, n2); e.g. rand-m9-mstd0.5, trivialaugment, augmix-m5-w4-d2, original")


def _input_size(contract: DataContract) -> tuple[int, int, int]:
    return (contract.in_chans, contract.img_size, contract.img_size)


def eval_crop(contract: DataContract):
    if contract.crop_pct is None:  # the squashed reading of older checkpoints
        size = (contract.img_size, contract.img_size)
        return transforms.Compose([transforms.Resize(size, str_to_interp_mode(contract.interpolation), antialias=True),
                                   transforms.PILToTensor()])
    return create_transform(input_size=_input_size(contract), is_training=False, crop_pct=contract.crop_pct,
                            crop_mode=contract.crop_mode, interpolation=contract.interpolation, normalize=False)


def train_transform(contract: DataContract, augmentation: Augmentation):
    a = augmentation
    try:
        return create_transform(
            input_size=_input_size(contract), is_training=True, scale=a.scale, ratio=a.ratio, hflip=a.hflip,
            color_jitter=a.color_jitter, auto_augment=a.auto_augment, interpolation=contract.interpolation,
            mean=tuple(contract.mean), std=tuple(contract.std), re_prob=a.re_prob,
        )
    except (AssertionError, ValueError, KeyError) as err:  # timm's parse of an auto-augment policy string
        raise ConfigError(f"data.auto_augment={a.auto_augment!r} is not a timm policy ({err}); e.g. rand-m9-mstd0.5, "
                          "trivialaugment, augmix-m5-w4-d2, original") from None
