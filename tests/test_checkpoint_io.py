"""Checkpoint writes are all or nothing: an interrupted save leaves the previous file loadable."""

import pytest
import torch

from vit_bert.training import checkpoint_io
from vit_bert.training.checkpoint_io import AtomicCheckpointIO


def test_an_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"global_step": 1, "w": torch.ones(1000)}, path)

    def killed_midway(obj, f):
        f.write(b"\x80\x02partial bytes of a checkpoint")  # what a process killed mid-write leaves
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_io.torch, "save", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"global_step": 2, "w": torch.zeros(1000)}, path)
    monkeypatch.undo()
    loaded = torch.load(path, weights_only=True)
    assert loaded["global_step"] == 1 and torch.equal(loaded["w"], torch.ones(1000))
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary file left behind

    io.save_checkpoint({"global_step": 3, "w": torch.zeros(1000)}, path)
    assert torch.load(path, weights_only=True)["global_step"] == 3
