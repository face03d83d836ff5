"""Checkpoint files that are either complete or absent: write a temporary file beside the target,
fsync it, then rename it over the target (atomic on POSIX within one filesystem).

Lightning's own writer stages the bytes in the system temp folder and then moves them, which is a
plain copy when that folder is on another filesystem: a kill during the copy leaves a truncated
checkpoint. Here a kill at any moment leaves the previous file loadable.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from ..errors import CheckpointWriteError


def atomic_torch_save(obj, path: str | Path) -> None:
    """A failed write (a full disk, a lost mount) stops with a CheckpointWriteError naming the file, the reason and
    whether an earlier checkpoint of that name is intact; the temporary file is removed."""
    path = Path(path)
    try:
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
    except (OSError, RuntimeError) as err:  # torch's zip writer reports a full disk as "RuntimeError: [enforce fail ..."
        raise CheckpointWriteError(f"could not write the checkpoint {path}: {_reason(err, path.parent)}; "
                                   f"{_intact(path)}") from None


def _reason(err: Exception, folder: Path) -> str:
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if free is not None and free < 64 * 2**20:
        return f"the disk is full ({free / 2**20:.1f} MiB free)"
    return str(err).splitlines()[0][:200]


def _intact(path: Path) -> str:
    if path.is_file():
        return f"the {path.name} written before is intact"
    others = sorted(path.parent.glob("*.ckpt"))
    return f"intact: {', '.join(p.name for p in others)}" if others else "no earlier checkpoint is in its folder"


class AtomicCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO for local paths, writing through ``atomic_torch_save``."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if storage_options is not None or "://" in str(path):  # remote filesystems: Lightning's writer
            return super().save_checkpoint(checkpoint, path, storage_options)
        atomic_torch_save(checkpoint, path)
