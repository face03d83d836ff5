"""The bad-input table through train.py's entry point: exit code 2, one line starting 'error: ',
naming what was wrong and what was expected, and no files touched."""

import re
from pathlib import Path

import pytest
import torch
from torchvision.io import write_png

from vit_bert.commands import train_py as main
from text_data import write_splits

TINY = ["--model.config", "{patch_size: 2, dim: 32, depth: 1, heads: 2}", "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", "2", "--trainer.enable_progress_bar", "false"]


def image_folder(root, corrupt=False):
    for split in ("train", "test"):
        for label, name in enumerate(("cat", "dog")):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(4):
                write_png(torch.full((1 if i == 0 else 3, 8, 8), 40 * label + i, dtype=torch.uint8), str(folder / f"{i}.png"))
    if corrupt:
        (root / "train/cat/broken.png").write_bytes(b"\x89PNG truncated")
    return root


FOLDER = ["--data.dataset", "folder", "--data.root", "images"]
TEXT = ["--config", "configs/sst2_bert.yaml", "--data.root", "text", "--model.preset", "bert-tiny", "--trainer.max_epochs", "1"]

CASES = {
    "corrupt image": ([*FOLDER], r"cannot read image .*broken\.png.*--data.skip_corrupt true"),
    "image size not divisible by the patch": ([*FOLDER, "--data.image_size", "9"], r"img_size 9 is not divisible by patch_size 2; expected a multiple of 2"),
    "unknown config key": (["--model.config", "{depht: 2}"], r"--model.config.depht is not an option. Did you mean 'depth'\?"),
    "wrong type": (["--model.config", "{depth: two}"], r"--model.config.depth: expected int; got 'two'"),
    "num_classes against the data": (["--model.config", "{num_classes: 3, patch_size: 2}"], r"num_classes=3 disagrees with the dataset, which has num_classes=10"),
    "missing preset": (["--model.preset", "vit-x/16"], r"unknown preset 'vit-x/16'"),
    "missing text column": ([*TEXT, "--data.text_column", "review"], r"has no column 'review'; columns found: \['sentence', 'label'\]"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_clear_line(case, tmp_path, monkeypatch, capsys):
    args, message = CASES[case]
    monkeypatch.chdir(tmp_path)
    image_folder(tmp_path / "images", corrupt=case == "corrupt image")
    write_splits(tmp_path / "text", "tsv", n_train=40, n_test=10)
    (tmp_path / "configs").symlink_to(Path(__file__).resolve().parent.parent / "configs")
    (tmp_path / "runs/keep").mkdir(parents=True)
    (tmp_path / "runs/keep/last.ckpt").write_bytes(b"an earlier run's checkpoint")
    with pytest.raises(SystemExit) as exit_info:
        main([*TINY, *args])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("error: ") and "Traceback" not in "\n".join(lines)
    assert re.search(message, lines[-1]), lines[-1]
    assert (tmp_path / "runs/keep/last.ckpt").read_bytes() == b"an earlier run's checkpoint"
