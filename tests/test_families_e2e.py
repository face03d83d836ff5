"""Everything downstream of loading, on a family with registers and LayerScale (a DINOv2-with-registers layout from timm):
fine-tuning through train.py with a fresh head, predict, ONNX export, masked-image pretraining and co-training from it."""

from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file
from torchvision.io import write_png

import vit_bert
from vit_bert.cli import build_cli, run, vit_bert_main
from vit_bert.export import example_inputs, export_onnx, onnx_max_difference
from text_data import write_splits

ROOT = Path(__file__).resolve().parent.parent
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def registers_file(directory: Path) -> Path:
    """timm's DINOv2-with-registers architecture at the digits' size (8x8 grey, 2x2 patches), random weights, as a bare file."""
    torch.manual_seed(0)
    model = timm.create_model("vit_small_patch14_reg4_dinov2", pretrained=False, img_size=8, patch_size=2, in_chans=1, embed_dim=32,
                              depth=2, num_heads=2)
    path = directory / "dinov2_reg4_tiny.safetensors"
    save_file(model.state_dict(), path)
    return path


def write_config(path: Path, task: str, weights: Path) -> Path:
    path.write_text(
        f"task: {task}\nseed_everything: 0\n"
        f"model:\n  pretrained: {weights}\n  config: {{heads: 2}}\n  lr: 0.002\n"  # a width no registered timm ViT has: heads given
        "data:\n  class_path: vit_bert.data.ImageDataModule\n  init_args: {dataset: digits, batch_size: 32, hflip: false}\n"
        "trainer:\n  max_epochs: 1\n  limit_train_batches: 4\n  limit_val_batches: 2\n  limit_test_batches: 2\n  precision: 32-true\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_fine_tune_predict_and_export_a_model_with_registers(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    weights = registers_file(tmp_path)
    cli = run(["--config", str(write_config(tmp_path / "fine_tune.yaml", "classification", weights)), *QUIET])
    model = cli.model.model
    assert (model.config.reg_tokens, model.config.no_embed_class, model.config.num_classes) == (4, True, 10)  # a fresh 10-class head
    out = capsys.readouterr().out
    assert "test accuracy: " in out
    best = out.split("checkpoint: ")[1].split()[0]

    from sklearn.datasets import load_digits

    write_png(torch.from_numpy(load_digits().images[0] * 255 / 16).to(torch.uint8)[None], "digit0.png")
    vit_bert_main(["predict", best, "digit0.png"])
    name, label, probability = capsys.readouterr().out.strip().split("\t")
    assert name == "digit0.png" and label in [str(d) for d in range(10)] and 0.0 < float(probability) <= 1.0

    loaded = vit_bert.load_pretrained(best).eval()
    loaded.save_pretrained(tmp_path / "folder")
    again = vit_bert.load_pretrained(tmp_path / "folder").eval()
    images = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(again(images), loaded(images))
    path = export_onnx(loaded, tmp_path / "model.onnx")
    assert onnx_max_difference(loaded, path, example_inputs(loaded, 4, 0, seed=0)) <= 1e-4


@pytest.mark.slow
def test_masked_image_pretraining_and_co_training_start_from_a_model_with_registers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    weights = registers_file(tmp_path)
    start = vit_bert.load_pretrained(weights, heads=2)
    mae = run(["--config", str(write_config(tmp_path / "mae.yaml", "masked_tokens", weights)), *QUIET])
    assert mae.model.model.config.head == "pixels" and mae.model.model.head.num_prefix_tokens == 5  # [CLS] + 4 registers
    assert mae.trainer.global_step == 4

    write_splits(tmp_path / "text", "tsv", n_train=200, n_test=40)
    cotrain = build_cli(["--config", str(ROOT / "configs/cotrain_cifar10_sst2.yaml"), "--data.tasks.cifar10.init_args.dataset", "digits",
                         "--data.tasks.sst2.init_args.root", "text", "--data.tasks.sst2.init_args.tokenizer_vocab_size", "120",
                         "--model.pretrained", str(weights), "--model.encoder", "{heads: 2}",
                         "--model.tasks", "{cifar10: {patch_size: 2, reg_tokens: 4, no_embed_class: true, img_size: 8}, sst2: {max_len: 64}}",
                         "--trainer.max_steps", "1", "--trainer.max_time", "null", *QUIET])
    shared = cotrain.model.model
    assert torch.equal(shared.encoder.blocks[1].ls2.gamma, start.encoder.blocks[1].ls2.gamma)
    assert torch.equal(shared.frontends["cifar10"].reg_token, start.frontend.reg_token)  # the image front-end came along
