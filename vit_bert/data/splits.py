"""Train/validation/test splits, the same way for images and text.

A split is anything with ``len(split)`` and ``split.subset(index)`` (``ImageSplit``, ``TextSplit``).
    split_off(split, fraction, seed) -> (rest, held_out)
    with_validation(splits, fraction, seed) -> splits with a "val" entry
"""

from __future__ import annotations

import logging
from typing import Protocol, TypeVar

import torch

log = logging.getLogger(__name__)


class Split(Protocol):
    def __len__(self) -> int: ...

    def subset(self, index: torch.Tensor) -> "Split": ...


S = TypeVar("S", bound=Split)


def split_off(split: S, fraction: float, seed: int) -> tuple[S, S]:
    """Random (rest, held_out) partition with ``fraction`` of the samples held out, fixed by ``seed``."""
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))
    n_held = int(round(fraction * len(split)))
    return split.subset(order[n_held:]), split.subset(order[:n_held])


def with_validation(splits: dict[str, S], fraction: float, seed: int) -> dict[str, S]:
    """Keep a given "val" split; else hold out ``fraction`` of train, or (fraction 0) validate on test."""
    if "val" in splits:
        return splits
    if fraction > 0:
        train, val = split_off(splits["train"], fraction, seed)
        return {**splits, "train": train, "val": val}
    return {**splits, "val": splits["test"]}
