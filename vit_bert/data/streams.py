"""Reading a prepared folder's shards with LitData: every rank streams a disjoint part, and a resumed run goes on exactly.

    ShardImages(split dir, transform, ...)      -> {"images": (C, S, S) float, "labels": () int64} per sample
    ShardSentences(split dir, ...)              -> {"input_ids": (T,) int64, "labels": () int64}: one text each
    ShardBlocks(split dir, max_length, ...)     -> {"input_ids": (max_length,) int64, "labels": -1}: the token stream cut up
    stream_loader(dataset, batch_size, ...)     -> a ``StreamingDataLoader``
    TakenPosition(train loader)                 -> the loader, whose ``position`` is the state after the batches the
                                                   training loop took

LitData shuffles chunks, then samples within a window, by (seed, epoch); in a distributed run each rank reads its own
chunks and every rank the same number of samples (LitData's ``drop_last``, on in a distributed run). Evaluation is
not split: LitData's even split of a small validation set can leave a rank nothing at all, and ranks must take the
same number of batches (DDP's forward is a collective), so every rank reads the whole split; its metrics, summed over
the ranks, are those of one process. ``StreamingDataLoader.state_dict()`` is its position in
that order, and ``load_state_dict`` starts there. Lightning fetches one batch ahead of the step it runs, so the loader's
own state is one batch past what was trained on; ``TakenPosition`` keeps the state after each batch and hands over the
one of the batch the data module saw go to the device. A training image's augmentation is seeded from (seed, epoch,
sample index), as on the streamed folder path, so it does not depend on the worker that read it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import numpy as np
import torch
from litdata import StreamingDataLoader, StreamingDataset
from litdata.streaming.item_loader import TokensLoader
from litdata.utilities.env import _DistributedEnv

from .image_reading import open_image
from .streamed_images import seeded


def _sample_index(index) -> int:
    return int(getattr(index, "index", index))  # LitData passes a ChunkedIndex while streaming, an int on random access


class Shards(StreamingDataset):
    """Training: shuffled and split over the ranks. Evaluation: in order, whole on every rank."""

    def __init__(self, path: str, seed: int, train: bool, **options):
        super().__init__(path, shuffle=train, seed=seed, **options)
        if not train:
            self.distributed_env, self.drop_last = _DistributedEnv(world_size=1, global_rank=0, num_nodes=1), False


class ShardImages(Shards):
    def __init__(self, path: str, image_transform, channels: int, max_pixels: int | None, seed: int, train: bool):
        super().__init__(path, seed, train)
        self.image_transform, self.channels, self.max_pixels, self.train = image_transform, channels, max_pixels, train

    def __getitem__(self, index) -> dict:
        item = super().__getitem__(index)
        image = open_image(item["image"], self.channels, self.max_pixels)
        if self.train:
            with seeded(self.seed, self.current_epoch, _sample_index(index)):
                images = self.image_transform(image)
        else:
            images = self.image_transform(image)
        return {"images": images, "labels": torch.tensor(item["label"], dtype=torch.long)}


class ShardSentences(Shards):
    def __getitem__(self, index) -> dict:
        item = super().__getitem__(index)
        return {"input_ids": torch.from_numpy(np.asarray(item["input_ids"], dtype=np.int64)),
                "labels": torch.tensor(item["label"], dtype=torch.long)}


class ShardBlocks(Shards):
    def __init__(self, path: str, max_length: int, seed: int, train: bool):
        super().__init__(path, seed, train, item_loader=TokensLoader(block_size=max_length))

    def __getitem__(self, index) -> dict:
        block = super().__getitem__(index)
        return {"input_ids": torch.as_tensor(np.asarray(block), dtype=torch.long), "labels": torch.tensor(-1)}


def stream_loader(dataset: StreamingDataset, batch_size: int, num_workers: int, collate_fn, seed: int = 0) -> StreamingDataLoader:
    # No persistent workers: each epoch's workers must take the dataset with that epoch set. The loader's own generator:
    # starting an iterator draws its workers' base seed from it, not from torch's global one, which checkpoints restore.
    return StreamingDataLoader(dataset, batch_size=batch_size, num_workers=num_workers, collate_fn=collate_fn,
                               generator=torch.Generator().manual_seed(seed))


class TakenPosition:
    """A training ``StreamingDataLoader`` whose ``position`` is its state after the last batch ``took()`` counted."""

    def __init__(self, loader: StreamingDataLoader):
        self.loader = loader
        self.position: dict | None = None
        self._after: deque[dict] = deque()
        self._resumed = False

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        if not self._resumed:
            # LitData keeps a loaded state's flag through an epoch cut short (limit_train_batches), and would start
            # the next epoch at the resumed position again (Lightning-AI/litData#770): each later pass is a new epoch.
            self.loader.restore = False
        self._resumed = False
        self._after.clear()
        for batch in self.loader:
            self._after.append(self.loader.state_dict())
            yield batch

    def took(self) -> None:
        """The training loop took the oldest batch not yet counted."""
        self.position = self._after.popleft()

    def resume(self, position: dict, dataset: StreamingDataset) -> None:
        """Continue at ``position``, a state of a loader over the same shards (same checksum), which may since have moved."""
        position = {**position, "dataset": {**position["dataset"], "input_dir_path": dataset.input_dir.path,
                                            "input_dir_url": dataset.input_dir.url}}
        self.loader.load_state_dict(position)
        self.position = position
        self._resumed = True
