"""configs/finetune_folder.yaml as a user runs it: a pretrained timm ViT fine-tuned on a folder of photos of many sizes."""

import pytest
import timm
import torch

import vit_bert
from vit_bert.cli import run
from vit_bert.errors import ConfigError

from test_streamed_images import photo_folder


@pytest.mark.slow
def test_finetune_folder_streams_the_photos_and_keeps_the_models_eval_protocol(tmp_path, monkeypatch):
    timm_model = timm.create_model("vit_tiny_patch16_224", pretrained=False)  # stands in for the download: the same pretrained_cfg
    vit_bert.load_pretrained(timm_model).save_pretrained(tmp_path / "vit_ti")
    torch.save(timm_model.state_dict(), tmp_path / "vit_ti.pth")
    photo_folder(tmp_path / "photos", per_class=4)
    monkeypatch.chdir(tmp_path)
    short = ["--data.batch_size", "4", "--trainer.max_steps", "2", "--trainer.limit_val_batches", "1", "--trainer.limit_test_batches", "1",
             "--trainer.enable_progress_bar", "false"]
    cli = run(["--config", "finetune_folder", "--data.root", "photos", "--model.pretrained", "vit_ti", *short])
    assert cli.datamodule.pipeline == "stream" and cli.trainer.global_step == 2
    saved = torch.load(next((tmp_path / "runs/finetune_folder/version_0/checkpoints").glob("last.ckpt")), weights_only=True)
    contract = saved["vit_bert_data"]
    assert (contract["img_size"], contract["crop_pct"], contract["interpolation"]) == (224, 0.9, "bicubic")
    assert contract["mean"] == contract["std"] == [0.5, 0.5, 0.5] and contract["class_names"] == ["cat", "dog"]
    assert saved["state_dict"]["model.head.fc.weight"].shape[0] == 2
    with pytest.raises(ConfigError, match=r"vit_ti\.pth does not say how its images were normalised .*--data.mean"):
        run(["--config", "finetune_folder", "--data.root", "photos", "--model.pretrained", "vit_ti.pth", *short])
