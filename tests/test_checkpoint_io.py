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


def test_a_checkpoint_that_cannot_be_written_stops_with_one_line_saying_what_is_intact(tmp_path, monkeypatch):
    from vit_bert.errors import CheckpointWriteError

    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"global_step": 1}, path)

    def full_disk(obj, f):  # what torch's zip writer raises when the disk fills mid-write
        f.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1385920 vs 1385812")

    monkeypatch.setattr(checkpoint_io.torch, "save", full_disk)
    monkeypatch.setattr(checkpoint_io.shutil, "disk_usage", lambda folder: type("usage", (), {"free": 12 * 2**20})())
    with pytest.raises(CheckpointWriteError) as raised:
        io.save_checkpoint({"global_step": 2}, path)
    message = str(raised.value)
    assert message == f"could not write the checkpoint {path}: the disk is full (12.0 MiB free); the last.ckpt written before is intact"
    assert "\n" not in message and [p.name for p in path.parent.iterdir()] == ["last.ckpt"]
    assert torch.load(path, weights_only=True)["global_step"] == 1
    with pytest.raises(CheckpointWriteError, match=r"best\.ckpt: .*; intact: last\.ckpt$"):
        io.save_checkpoint({"global_step": 2}, path.with_name("best.ckpt"))
