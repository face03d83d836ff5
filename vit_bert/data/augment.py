"""Batched image augmentation and normalisation, run on the training device.

Shapes: uint8 (B, C, h, w) -> float (B, C, S, S), S = the model's image size.

Train: random crop with zero padding + optional horizontal flip (each image its
own offsets and coin), at the stored resolution; then resize to S (if it
differs) and normalise. Eval: resize and normalise only. Doing this per batch
on the device, as the fastest CIFAR trainers do, keeps a 2-core CPU busy with
the model instead of with per-image PIL calls in worker processes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Pad each side by ``padding`` (zeros), then cut a random (h, w) window per image."""
    if padding <= 0:
        return images
    b, _, h, w = images.shape
    padded = F.pad(images, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (b,), device=images.device, generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (b,), device=images.device, generator=generator)
    rows = (dy[:, None] + torch.arange(h, device=images.device))[:, :, None]  # (B, h, 1)
    cols = (dx[:, None] + torch.arange(w, device=images.device))[:, None, :]  # (B, 1, w)
    batch = torch.arange(b, device=images.device)[:, None, None]
    cropped = rearrange(padded, "b c h w -> b h w c")[batch, rows, cols]  # (B, h, w, C)
    return rearrange(cropped, "b h w c -> b c h w")


def random_hflip(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    flip = torch.rand(images.shape[0], device=images.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


class BatchTransform:
    """uint8 batch -> normalised float batch at ``image_size``; ``train=True`` adds crop and flip."""

    def __init__(self, mean: list[float], std: list[float], image_size: int, crop_padding: int = 4, hflip: bool = True):
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)
        self.image_size = image_size
        self.crop_padding = crop_padding
        self.hflip = hflip

    def __call__(self, images: torch.Tensor, train: bool) -> torch.Tensor:
        if train:
            images = random_crop(images, self.crop_padding)
            if self.hflip:
                images = random_hflip(images)
        x = images.float().div_(255.0)
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False, antialias=True)
        return (x - self.mean.to(x.device)) / self.std.to(x.device)
