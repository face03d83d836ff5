"""A training order that a resumed run continues exactly, wherever the previous run stopped.

    ResumableSampler(dataset_size, seed, num_replicas, rank) -> indices of one rank, epoch by epoch

Each epoch's order is a permutation fixed by (seed, epoch), split over the ranks as
``DistributedSampler`` splits it (Lightning keeps a DistributedSampler as it is, on one device or
many). The data module counts the samples the training loop has taken this epoch (``consumed``);
that count and the epoch go into every checkpoint (``state_dict``), and a resumed run's first
epoch skips exactly those samples of the same permutation (``resume``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

from torch.utils.data import DistributedSampler


class ResumableSampler(DistributedSampler):
    def __init__(self, dataset: Sized, seed: int, num_replicas: int = 1, rank: int = 0, drop_last: bool = False):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=drop_last)
        self.consumed = 0
        """Samples of this epoch the training loop has taken (counted by the data module)."""
        self._resume: tuple[int, int] | None = None

    def resume(self, epoch: int, consumed: int) -> None:
        """The next pass over ``epoch`` starts after its first ``consumed`` samples."""
        self._resume = (epoch, consumed)

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        skip = self._resume[1] if self._resume is not None and self._resume[0] == self.epoch else 0
        self.consumed = skip
        return iter(indices[skip:])

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "consumed": self.consumed, "seed": self.seed, "num_replicas": self.num_replicas}
