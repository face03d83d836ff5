"""The streamed image path: each sample decoded and transformed on its own, in DataLoader workers.

    StreamedImages(files, transform, ...)[index]          -> {"images": (C, S, S) float, "labels": () int64}  (eval)
    StreamedImages(files, transform, ...)[(epoch, index)] -> the same, augmented with RNGs seeded from (seed, epoch, index)
    EpochSampler: a ResumableSampler that yields (epoch, index), so the training set sees the epoch in any worker

Memory does not grow with the number of images, and the first batch waits for one batch's files only. A training
sample's augmentation depends on (seed, epoch, index) alone, never on which worker read it or on what that worker
read before, so a run resumed mid-epoch (``ResumableSampler``) sees exactly the images the uninterrupted one saw.
"""

from __future__ import annotations

import logging
import random
from contextlib import contextmanager
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from ..errors import DataError
from .image_files import ImageFiles
from .image_reading import open_image
from .resumable import ResumableSampler

log = logging.getLogger(__name__)


@contextmanager
def seeded(*key: int):
    """Python's, NumPy's and torch's CPU RNGs seeded from ``key`` inside (timm's transforms draw from all three). In the main
    process their states are put back after, for the training loop's own draws; a DataLoader worker has no other draws,
    so it skips that (about 0.1 ms a sample)."""
    in_worker = get_worker_info() is not None
    states = None if in_worker else (random.getstate(), np.random.get_state(), torch.default_generator.get_state())
    seed = int(np.random.SeedSequence([k & 0xFFFFFFFF for k in key]).generate_state(1)[0])
    random.seed(seed), np.random.seed(seed), torch.default_generator.manual_seed(seed)  # CPU only: torch.manual_seed is 0.15 ms
    try:
        yield
    finally:
        if states is not None:
            random.setstate(states[0]), np.random.set_state(states[1]), torch.default_generator.set_state(states[2])


class StreamedImages(Dataset):
    """``files`` read one at a time through ``transform`` (a PIL image -> tensor callable, timm's)."""

    def __init__(self, files: ImageFiles, transform, channels: int, max_pixels: int | None, seed: int, skip_corrupt: bool):
        self.files, self.transform, self.channels, self.max_pixels = files, transform, channels, max_pixels
        self.seed, self.skip_corrupt = seed, skip_corrupt

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        epoch, index = key if isinstance(key, tuple) else (None, key)
        index, image = self._open(index)
        if epoch is None:
            images = self.transform(image)
        else:
            with seeded(self.seed, epoch, index):
                images = self.transform(image)
        return {"images": images, "labels": self.files.labels[index]}

    def _open(self, index: int):
        """(index, image) of sample ``index``; with skip_corrupt, of the next readable one (as timm's ImageDataset does)."""
        for attempt in range(min(len(self.files), 50)):
            current = (index + attempt) % len(self.files)
            try:
                return current, open_image(self.files.encoded(current), self.channels, self.max_pixels)
            except DataError as err:
                if not self.skip_corrupt:
                    raise DataError(f"{err}; remove the file, or set --data.skip_corrupt true to skip unreadable files") from None
                log.warning("skipped %s: %s", self.files.name(current), err)
        raise DataError(f"50 unreadable images in a row from {self.files.name(index)} on: is this an image data set?")


class EpochSampler(ResumableSampler):
    """Yields (epoch, index) pairs: ``StreamedImages`` seeds each training sample's augmentation from them."""

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch
        return ((epoch, index) for index in super().__iter__())
