"""Checkpoint files that are either complete or absent: write a temporary file beside the target,
fsync it, then rename it over the target (atomic on POSIX within one filesystem).

Lightning's own writer stages the bytes in the system temp folder and then moves them, which is a
plain copy when that folder is on another filesystem: a kill during the copy leaves a truncated
checkpoint. Here a kill at any moment leaves the previous file loadable.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO


def atomic_torch_save(obj, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


class AtomicCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO for local paths, writing through ``atomic_torch_save``."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if storage_options is not None or "://" in str(path):  # remote filesystems: Lightning's writer
            return super().save_checkpoint(checkpoint, path, storage_options)
        atomic_torch_save(checkpoint, path)
